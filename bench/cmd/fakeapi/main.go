// Command fakeapi serves the simulated ListUnpaidOrders API (simapi, varied
// data, answers memoised by request) on a loopback port, behind a recorder
// of requests, so that a client measured against it runs in another
// process, as the exporter does.
//
// It prints "URL http://127.0.0.1:port" once ready (with -prerender, once
// every offset page of the whole window is in the memo), then reads
// commands on its standard input, one a line, and answers each on standard
// output:
//
//	record [PROF]  switch request recording on (from empty); answers "ok".
//	               With PROF, also profile fakeapi's CPU until stop, into
//	               the file PROF: where the server's time goes in one run
//	stop FILE      switch it off and write what was recorded to FILE, one
//	               request a line (bench.WriteRequests); answers "ok N"
//
// It exits when its standard input closes (its parent is gone) or after
// -lifetime.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/debt-exporter/debt_exporter/bench"
)

func main() {
	orders := flag.Int("orders", 1_000_000, "orders in the dataset")
	now := flag.Int64("now", time.Now().Unix(), "newest CreateTime, Unix seconds")
	sortName := flag.String("sort", "desc", "order of answers: desc, asc or unsorted")
	prerender := flag.Bool("prerender", true, "render every offset page of the whole window before serving")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long whatever happens")
	peaks := flag.Bool("daily-peaks", false, "orders in a daily cycle, 9 times denser at the peak (simapi.Config.DailyPeaks)")
	flag.Parse()
	sort, err := bench.ParseSort(*sortName)
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	cfg := bench.ServerConfig(*orders, time.Unix(*now, 0), sort)
	cfg.DailyPeaks = *peaks
	api := bench.StartAPI(cfg, ln, *prerender)
	fmt.Printf("URL %s\n", api.URL)

	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(os.Stdin)
		var prof profiler
		for sc.Scan() {
			fmt.Println(command(api.Rec, &prof, sc.Text()))
		}
	}()
	select {
	case <-done:
	case <-time.After(*lifetime):
	}
	api.Close()
}

func command(rec *bench.Recorder, prof *profiler, line string) string {
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch verb {
	case "record":
		if arg != "" {
			if err := prof.start(arg); err != nil {
				return "error " + err.Error()
			}
		}
		if err := rec.Start(); err != nil {
			return "error " + err.Error()
		}
		return "ok"
	case "stop":
		rs, err := rec.Stop()
		if perr := prof.stop(); err == nil {
			err = perr
		}
		if err == nil {
			err = write(arg, rs)
		}
		if err != nil {
			return "error " + err.Error()
		}
		return fmt.Sprintf("ok %d", len(rs))
	}
	return fmt.Sprintf("error unknown command %q", line)
}

// profiler is the CPU profile of a recorded run, if one was asked for.
type profiler struct{ f *os.File }

func (p *profiler) start(path string) error {
	if p.f != nil {
		return errors.New("a profile is running")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.f = f
	return nil
}

func (p *profiler) stop() error {
	if p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Close()
	p.f = nil
	return err
}

func write(path string, rs []bench.Request) error {
	if path == "" {
		return errors.New("stop needs a file")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteRequests(f, rs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fakeapi:", err)
	os.Exit(1)
}
