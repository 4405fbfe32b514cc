// Command benchtable prints the sweep benchmark table: a full sweep of a
// million orders by apiclient.Client.Sweep with the collector's aggregation,
// against the raw transfer of the same pages and a naive encoding/json
// client, all served by a simulated API in a separate process on loopback;
// then the peak RSS of the real exporter process sweeping 100k and 1M
// orders (two scrapes each). It exits non-zero when any result differs from the exact Truth or
// anything fails; timing targets are printed, not enforced (the machine is
// noisy).
//
//	go run ./bench/cmd/benchtable [-orders 1000000] [-reps 3] [-concurrency 4]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/debt-exporter/debt_exporter/bench"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// Targets of the issue, printed next to the figures.
const (
	targetSweepRaw   = 2.5
	aimSweepRaw      = 1.5
	targetNaiveSweep = 4.0
	targetRSSMiB     = 64
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable: FAIL:", err)
		os.Exit(1)
	}
}

type options struct {
	orders, reps, conc int
	naive              bool
	rssOrders          []int
	scan               []int
	cpuProfile         string
	tmp                string
}

func run() error {
	var o options
	var rss, scan string
	flag.IntVar(&o.orders, "orders", 1_000_000, "orders served for the in-process table")
	flag.IntVar(&o.reps, "reps", 3, "measured runs of each contender; the table shows medians")
	flag.IntVar(&o.conc, "concurrency", 4, "pages in flight for the sweep and the raw fetch (the exporter's --api.concurrency)")
	flag.BoolVar(&o.naive, "naive", true, "measure the naive baseline (slow)")
	flag.StringVar(&rss, "rss-orders", "100000,1000000", "dataset sizes for the exporter's peak RSS; empty to skip")
	flag.StringVar(&scan, "scan", "", "also time the sweep alone at these concurrencies, e.g. 1,2,4,8")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the sweep runs to this file")
	flag.Parse()
	var err error
	if o.rssOrders, err = counts("-rss-orders", rss); err != nil {
		return err
	}
	if o.scan, err = counts("-scan", scan); err != nil {
		return err
	}
	if o.reps < 1 || o.conc < 1 || o.orders < 0 {
		return errors.New("-reps and -concurrency must be at least 1, -orders not negative")
	}

	tmp, err := os.MkdirTemp("", "benchtable-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp
	if err := build(tmp, "fakeapi", "./bench/cmd/fakeapi"); err != nil {
		return err
	}

	fmt.Printf("debt_exporter sweep benchmark, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("machine: %s, %d CPUs, GOMAXPROCS=%d, %s %s/%s\n\n", cpuModel(), runtime.NumCPU(),
		runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if err := table(o); err != nil {
		return err
	}
	if len(o.rssOrders) > 0 {
		if err := build(tmp, "debt_exporter", "."); err != nil {
			return err
		}
		return rssTable(o)
	}
	return nil
}

func counts(name, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s: %q is not a positive count", name, f)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// table measures the three contenders against one fakeapi process.
func table(o options) error {
	now := time.Now().Truncate(time.Second)
	api, err := startAPI(o.tmp, o.orders, now)
	if err != nil {
		return err
	}
	defer api.stop()
	tg := bench.NewTarget(simapi.NewHandler(bench.ServerConfig(o.orders, now)), api.url)
	ctx := context.Background()

	sweeper, err := bench.NewSweeper(tg, o.conc)
	if err != nil {
		return err
	}
	raw := bench.NewRaw(tg, o.conc)
	naive := bench.NewNaive(tg)
	// One unmeasured run each fills the connection pools and the CPU caches.
	if err := sweeper.Run(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if _, err := raw.Run(ctx); err != nil {
		return fmt.Errorf("raw fetch: %w", err)
	}

	var prof *os.File
	if o.cpuProfile != "" {
		if prof, err = os.Create(o.cpuProfile); err != nil {
			return err
		}
		defer prof.Close()
	}
	var raws, sweeps, naives []bench.Measurement
	var rawBytes int64
	for range o.reps {
		m, err := bench.Measure(func() (err error) { rawBytes, err = raw.Run(ctx); return err })
		if err != nil {
			return fmt.Errorf("raw fetch: %w", err)
		}
		raws = append(raws, m)

		if prof != nil {
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		}
		m, err = bench.Measure(func() error { return sweeper.Run(ctx) })
		if prof != nil {
			pprof.StopCPUProfile()
			prof = nil // one profiled run is enough, and a file holds one profile
		}
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		sweeps = append(sweeps, m)

		if o.naive {
			m, err = bench.Measure(func() error { return naive.Run(ctx) })
			if err != nil {
				return fmt.Errorf("naive: %w", err)
			}
			naives = append(naives, m)
		}
	}

	orders := float64(tg.Truth.Matched)
	fmt.Printf("full sweep: %d orders (%d invalid amounts), %d pages of %d, %.0f MB of JSON, %d series; median of %d runs\n",
		tg.Truth.Matched, tg.Truth.Invalid, tg.Pages(), bench.PageSize, float64(rawBytes)/1e6, len(tg.Truth.Series), o.reps)
	fmt.Printf("simulated API: separate process on 127.0.0.1, pages prerendered\n\n")
	fmt.Printf("%-26s %9s %11s %9s %13s %11s\n", "contender", "wall", "orders/s", "B/order", "allocs/order", "peak heap")
	line := func(name string, m bench.Measurement) {
		fmt.Printf("%-26s %8.2fs %11.0f %9.0f %13.2f %8.1f MiB\n", name, m.Wall.Seconds(), orders/m.Wall.Seconds(),
			float64(m.Bytes)/orders, float64(m.Allocs)/orders, float64(m.PeakHeap)/(1<<20))
	}
	r, s := bench.Median(raws), bench.Median(sweeps)
	line(fmt.Sprintf("raw fetch (concurrency %d)", o.conc), r)
	line(fmt.Sprintf("sweep (concurrency %d)", o.conc), s)
	var n bench.Measurement
	if o.naive {
		n = bench.Median(naives)
		line("naive (sequential)", n)
	}
	fmt.Println()
	sr := s.Wall.Seconds() / r.Wall.Seconds()
	fmt.Printf("sweep/raw   = %.2f  (target <= %.1f, aim %.1f): %s\n", sr, targetSweepRaw, aimSweepRaw, verdict(sr <= targetSweepRaw))
	if o.naive {
		ns := n.Wall.Seconds() / s.Wall.Seconds()
		fmt.Printf("naive/sweep = %.2f  (target >= %.0f): %s\n", ns, targetNaiveSweep, verdict(ns >= targetNaiveSweep))
	}
	fmt.Printf("totals: every run matched Truth exactly (%d series, %d orders summed, %d invalid)\n",
		len(tg.Truth.Series), tg.Truth.Matched-tg.Truth.Invalid, tg.Truth.Invalid)
	if len(o.scan) > 0 {
		return scanTable(ctx, o, tg)
	}
	return nil
}

// scanTable times the sweep at each concurrency, to choose the default.
func scanTable(ctx context.Context, o options, tg *bench.Target) error {
	fmt.Printf("\nsweep by --api.concurrency (median of %d runs each)\n\n%12s %9s %11s\n", o.reps, "concurrency", "wall", "orders/s")
	for _, conc := range o.scan {
		s, err := bench.NewSweeper(tg, conc)
		if err != nil {
			return err
		}
		if err := s.Run(ctx); err != nil { // warm its connections
			return fmt.Errorf("sweep at concurrency %d: %w", conc, err)
		}
		var ms []bench.Measurement
		for range o.reps {
			m, err := bench.Measure(func() error { return s.Run(ctx) })
			if err != nil {
				return fmt.Errorf("sweep at concurrency %d: %w", conc, err)
			}
			ms = append(ms, m)
		}
		m := bench.Median(ms)
		fmt.Printf("%12d %8.2fs %11.0f\n", conc, m.Wall.Seconds(), float64(tg.Truth.Matched)/m.Wall.Seconds())
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// rssTable runs the exporter binary against a fakeapi of each size, scrapes
// /metrics twice and reads the process's peak RSS.
func rssTable(o options) error {
	fmt.Printf("\nexporter process (go build ., --api.concurrency=%d): two /metrics scrapes, each a full sweep;\n", o.conc)
	fmt.Printf("debt_sweep_duration_seconds of each, RSS before the first (idle) and VmHWM after both (peak)\n\n")
	fmt.Printf("%9s %12s %12s %12s %14s\n", "orders", "1st sweep", "2nd sweep", "idle RSS", "peak RSS")
	worst := 0.0
	for _, n := range o.rssOrders {
		r, err := exporterRSS(o, n)
		if err != nil {
			return fmt.Errorf("exporter at %d orders: %w", n, err)
		}
		fmt.Printf("%9d %11.2fs %11.2fs %8.1f MiB %10.1f MiB\n", n, r.sweep[0], r.sweep[1], r.idleMiB, r.peakMiB)
		worst = max(worst, r.peakMiB)
	}
	fmt.Printf("\npeak RSS < %d MiB at every size: %s\n", targetRSSMiB, verdict(worst < targetRSSMiB))
	return nil
}

type rssResult struct {
	sweep            [2]float64 // debt_sweep_duration_seconds of each scrape
	idleMiB, peakMiB float64
}

func exporterRSS(o options, orders int) (rssResult, error) {
	var res rssResult
	now := time.Now().Truncate(time.Second)
	api, err := startAPI(o.tmp, orders, now)
	if err != nil {
		return res, err
	}
	defer api.stop()
	truth := bench.NewTarget(simapi.NewHandler(bench.ServerConfig(orders, now)), api.url).Truth

	port, err := freePort()
	if err != nil {
		return res, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(filepath.Join(o.tmp, "debt_exporter"),
		"--web.listen-address="+addr, "--api.endpoint="+api.url+"/", "--api.public-key="+simapi.DemoPublicKey,
		"--api.concurrency="+strconv.Itoa(o.conc), "--window=30d", "--log.level=error")
	cmd.Env = append(os.Environ(), "DEBT_EXPORTER_PRIVATE_KEY="+simapi.DemoPrivateKey)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive benchtable
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	hc := &http.Client{Timeout: 5 * time.Minute}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("exporter not listening on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res.idleMiB, err = vmHWM(cmd.Process.Pid); err != nil {
		return res, err
	}
	// The first scrape meets cold connections and a cold heap; the second
	// is the steady state, and shows that a sweep leaves nothing behind.
	for i := range res.sweep {
		resp, err := hc.Get("http://" + addr + "/metrics")
		if err != nil {
			return res, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return res, err
		}
		up, summed, sweep := scrapeFigures(string(body))
		if up != 1 || summed != truth.Matched-truth.Invalid {
			return res, fmt.Errorf("scrape %d: debt_up %v, %d orders summed; want 1, %d", i+1, up, summed, truth.Matched-truth.Invalid)
		}
		res.sweep[i] = sweep
	}
	res.peakMiB, err = vmHWM(cmd.Process.Pid)
	return res, err
}

// scrapeFigures reads debt_up, the total of debt_unpaid_orders and the
// sweep duration from an exposition.
func scrapeFigures(text string) (up float64, orders int, sweep float64) {
	for _, l := range strings.Split(text, "\n") {
		i := strings.LastIndexByte(l, ' ')
		if i < 0 || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(l, "debt_up "):
			up = v
		case strings.HasPrefix(l, "debt_unpaid_orders{"):
			orders += int(v)
		case strings.HasPrefix(l, "debt_sweep_duration_seconds "):
			sweep = v
		}
	}
	return up, orders, sweep
}

func vmHWM(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type apiProcess struct {
	url   string
	cmd   *exec.Cmd
	stdin io.Closer
}

// startAPI runs fakeapi and waits until its pages are prerendered.
func startAPI(tmp string, orders int, now time.Time) (*apiProcess, error) {
	cmd := exec.Command(filepath.Join(tmp, "fakeapi"), "-orders", strconv.Itoa(orders),
		"-now", strconv.FormatInt(now.Unix(), 10), "-lifetime", "30m")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &apiProcess{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if url, ok := strings.CutPrefix(strings.TrimSpace(line), "URL "); err == nil && ok {
		p.url = url
		return p, nil
	}
	p.stop()
	return nil, fmt.Errorf("fakeapi did not start: %q %v", line, err)
}

func (p *apiProcess) stop() {
	_ = p.stdin.Close() // fakeapi exits when its stdin closes
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// build compiles a package of this module into dir/name.
func build(dir, name, pkg string) error {
	gotool := os.Getenv("GO")
	if gotool == "" {
		gotool = "go"
	}
	gomod, err := exec.Command(gotool, "env", "GOMOD").Output()
	if err != nil || len(strings.TrimSpace(string(gomod))) == 0 {
		return fmt.Errorf("cannot find the module root (go env GOMOD): %v", err)
	}
	cmd := exec.Command(gotool, "build", "-o", filepath.Join(dir, name), pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
