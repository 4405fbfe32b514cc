// Command benchtable prints the sweep benchmark table, against a simulated
// API (bench/cmd/fakeapi: varied data, answers memoised) in a separate
// process on loopback:
//
//   - a steady-state sweep of a million orders (apiclient.Client.Sweep under
//     the collector's aggregation) against the raw fetch of the very
//     requests it makes (recorded by fakeapi, replayed signed at the same
//     concurrency, bodies discarded) and a naive encoding/json + math/big
//     client reading every offset page;
//   - requests per sweep against ceil(orders / PageSize), first and steady
//     sweeps, for an API sorted either way and an unsorted one;
//   - the peak RSS of the real exporter process sweeping 100k and 1M
//     orders (three scrapes each).
//
// Every sweep and every scrape is checked exactly against the simulated
// Truth; benchtable exits 1 on any difference, or when the measured sweep
// did not make the requests the raw fetch replayed. Timing targets are
// printed, not enforced (the machine is noisy).
//
//	go run ./bench/cmd/benchtable [-orders 1000000] [-reps 9] [-naive-reps 3] [-concurrency 4]
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/bench"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// Targets of the issue, printed next to the figures.
const (
	targetSweepRaw       = 1.5  // sweep wall / raw fetch of the same requests
	targetNaiveSweep     = 4.0  // naive wall / sweep wall
	targetRSSMiB         = 64   // exporter peak RSS
	targetRSSFlat        = 1.25 // peak RSS at the largest size / at the smallest
	targetSortedSteady   = 1.1  // requests / ceil(orders/PageSize)
	targetUnsortedSteady = 1.5
	targetFirst          = 1.5
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable: FAIL:", err)
		os.Exit(1)
	}
}

type options struct {
	orders, reps, conc int
	naiveReps          int
	naive              bool
	rssOrders          []int
	sorts              []dataset
	scan               []int
	cpuProfile         string
	rawCPUProfile      string
	apiProfiles        string
	tmp                string
}

func run() error {
	var o options
	var rss, scan, sorts string
	flag.IntVar(&o.orders, "orders", 1_000_000, "orders served for the sweep table and the requests table")
	flag.IntVar(&o.reps, "reps", 9, "measured pairs of raw fetch and sweep; the table shows medians")
	flag.IntVar(&o.naiveReps, "naive-reps", 3, "measured runs of the naive baseline, in the first pairs (it is slow)")
	flag.IntVar(&o.conc, "concurrency", 4, "requests in flight for the sweep and the raw fetch (the exporter's --api.concurrency)")
	flag.BoolVar(&o.naive, "naive", true, "measure the naive baseline (slow)")
	flag.StringVar(&rss, "rss-orders", "100000,1000000", "dataset sizes for the exporter's peak RSS; empty to skip")
	flag.StringVar(&sorts, "sorts", "desc,asc,unsorted,desc+peaks,unsorted+peaks",
		"API sort orders of the requests table, +peaks for orders in a daily cycle; empty to skip")
	flag.StringVar(&scan, "scan", "", "also time the steady sweep alone at these concurrencies, e.g. 1,2,4,8")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of three extra steady sweeps to this file")
	flag.StringVar(&o.rawCPUProfile, "raw-cpuprofile", "", "write a CPU profile of three extra raw fetches to this file")
	flag.StringVar(&o.apiProfiles, "api-cpuprofile", "", "write a CPU profile of the simulated API during each measured raw fetch\n"+
		"and sweep of the sweep table to this folder (raw-N.prof, sweep-N.prof)")
	flag.Parse()
	var err error
	if o.rssOrders, err = counts("-rss-orders", rss); err != nil {
		return err
	}
	if o.scan, err = counts("-scan", scan); err != nil {
		return err
	}
	for _, name := range strings.Split(sorts, ",") {
		if name = strings.TrimSpace(name); name != "" {
			base, peaks := strings.CutSuffix(name, "+peaks")
			so, err := bench.ParseSort(base)
			if err != nil {
				return fmt.Errorf("-sorts: %w", err)
			}
			o.sorts = append(o.sorts, dataset{sort: so, peaks: peaks})
		}
	}
	if o.reps < 1 || o.naiveReps < 1 || o.conc < 1 || o.orders < 1 {
		return errors.New("-reps, -naive-reps, -concurrency and -orders must be at least 1")
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
	desc, err := table(o)
	if err != nil {
		return err
	}
	if len(o.sorts) > 0 {
		if err := requestsTable(o, desc); err != nil {
			return err
		}
	}
	if len(o.rssOrders) > 0 {
		if err := build(tmp, "debt_exporter", "."); err != nil {
			return err
		}
		if err := rssTable(o); err != nil {
			return err
		}
	}
	fmt.Println("\ntotals: every sweep and every scrape matched Truth exactly")
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

// dataset is an API's sort order, and whether its orders bunch in a daily
// cycle (simapi.Config.DailyPeaks) instead of spreading evenly.
type dataset struct {
	sort  int
	peaks bool
}

func (d dataset) String() string {
	if d.peaks {
		return bench.SortName(d.sort) + "+peaks"
	}
	return bench.SortName(d.sort)
}

// requestsRow is what one sort order's sweeps cost in requests.
type requestsRow struct {
	sort                 int
	pages                int // ceil(orders / PageSize)
	first, steady, third int
	// steadyPages and thirdPages leave out the proofs of short answers,
	// which may differ from one steady sweep to the next (bench.SamePages)
	steadyPages, thirdPages int
}

// table measures the three contenders against one fakeapi process, sorted
// by CreateTime descending (the default of the simulated API). Protocol,
// all checked against Truth:
//
//  1. a first sweep (it learns the plan), then a steady sweep recorded by
//     fakeapi: the requests to replay; their answers are now in the memo;
//  2. one unmeasured replay (connections of the raw client, and a check
//     that it gets the same bytes);
//  3. reps times: raw replay, sweep, and in the first naiveReps naive, each
//     measured; the replay and the sweep recorded again, and both must
//     match step 1 exactly. The machine moves between a fast and a slow
//     state from minute to minute: nine pairs give a median that one
//     spell does not make (the naive baseline, 15 s a run, is far past its
//     target either way).
func table(o options) (requestsRow, error) {
	row := requestsRow{sort: simapi.SortDesc}
	now := time.Now().Truncate(time.Second)
	api, err := startAPI(o.tmp, o.orders, now, simapi.SortDesc, true)
	if err != nil {
		return row, err
	}
	defer api.stop()
	tg := bench.NewTarget(simapi.NewHandler(bench.ServerConfig(o.orders, now, simapi.SortDesc)), api.url)
	row.pages = tg.MinRequests()
	ctx := context.Background()

	sweeper, err := bench.NewSweeper(tg, o.conc)
	if err != nil {
		return row, err
	}
	first, steady, reqs, err := bench.Learn(ctx, sweeper, api)
	if err != nil {
		return row, err
	}
	row.first, row.steady = first.Requests, steady.Requests
	row.steadyPages = steady.Requests - steady.Proofs
	raw := bench.NewRaw(tg, o.conc)
	naive := bench.NewNaive(tg)
	replay := func(prof string) (int64, error) {
		if err := api.StartProfile(prof); err != nil {
			return 0, err
		}
		n, err := raw.Run(ctx, reqs)
		got, rerr := api.Stop()
		if err != nil {
			return n, fmt.Errorf("raw fetch: %w", err)
		}
		if rerr != nil {
			return n, rerr
		}
		if err := bench.SameRequests(reqs, got); err != nil {
			return n, fmt.Errorf("the raw fetch did not make the recorded requests: %w", err)
		}
		if n != bench.Bytes(reqs) {
			return n, fmt.Errorf("the raw fetch read %d bytes, the server sent %d", n, bench.Bytes(reqs))
		}
		return n, nil
	}
	if _, err := replay(""); err != nil {
		return row, err
	}

	var raws, sweeps, naives []bench.Measurement
	profPath := func(name string, rep int) string {
		if o.apiProfiles == "" {
			return ""
		}
		return filepath.Join(o.apiProfiles, fmt.Sprintf("%s-%d.prof", name, rep+1))
	}
	for rep := range o.reps {
		m, err := bench.Measure(api.cmd.Process.Pid, func() error { _, err := replay(profPath("raw", rep)); return err })
		if err != nil {
			return row, err
		}
		raws = append(raws, m)

		if err := api.StartProfile(profPath("sweep", rep)); err != nil {
			return row, err
		}
		var st apiclient.Stats
		m, err = bench.Measure(api.cmd.Process.Pid, func() error { s, err := sweeper.Run(ctx); st = s; return err })
		got, rerr := api.Stop()
		if err != nil {
			return row, fmt.Errorf("sweep: %w", err)
		}
		if rerr != nil {
			return row, rerr
		}
		if _, _, err := bench.SamePages(reqs, got); err != nil {
			return row, fmt.Errorf("the measured sweep did not make the replayed requests: %w", err)
		}
		row.third, row.thirdPages = st.Requests, st.Requests-st.Proofs
		sweeps = append(sweeps, m)

		if o.naive && rep < o.naiveReps {
			m, err = bench.Measure(api.cmd.Process.Pid, func() error { return naive.Run(ctx) })
			if err != nil {
				return row, fmt.Errorf("naive: %w", err)
			}
			naives = append(naives, m)
		}
	}

	orders := float64(tg.Truth.Matched)
	fmt.Printf("full sweep: %d orders (%d invalid amounts), %d series, varied JSON, API sorted by CreateTime descending\n",
		tg.Truth.Matched, tg.Truth.Invalid, len(tg.Truth.Series))
	fmt.Printf("steady sweep: %d requests (ceil(orders/%d) = %d), %.0f MB of JSON; naive: %d offset pages\n",
		len(reqs), bench.PageSize, tg.MinRequests(), float64(bench.Bytes(reqs))/1e6, tg.Pages())
	fmt.Printf("simulated API: separate process on 127.0.0.1, answers memoised (warm for every contender)\n")
	fmt.Printf("raw fetch: the steady sweep's requests as fakeapi recorded them, replayed signed; every measured\n")
	fmt.Printf("sweep and replay recorded again and matched request for request, byte for byte (%d proofs of short\n", bench.Proofs(reqs))
	fmt.Printf("answers in the replayed list: a sweep's may differ, as does the order of its answers); median of %d runs\n", o.reps)
	if o.naive {
		fmt.Printf("(naive: %d)\n", min(o.naiveReps, o.reps))
	}
	fmt.Println()
	fmt.Printf("%-30s %9s %11s %9s %13s %11s %12s %12s %12s\n", "contender", "wall", "orders/s", "B/order", "allocs/order",
		"peak heap", "CPU µs/ord", "API µs/ord", "API sw/req")
	line := func(name string, m bench.Measurement, requests int) {
		fmt.Printf("%-30s %8.2fs %11.0f %9.0f %13.2f %8.1f MiB %12.2f %12.2f %12.2f\n", name, m.Wall.Seconds(), orders/m.Wall.Seconds(),
			float64(m.Bytes)/orders, float64(m.Allocs)/orders, float64(m.PeakHeap)/(1<<20),
			float64(m.CPU.Microseconds())/orders, float64(m.ServerCPU.Microseconds())/orders,
			float64(m.ServerSwitches)/float64(requests))
	}
	r, s := bench.Median(raws), bench.Median(sweeps)
	line(fmt.Sprintf("raw fetch (concurrency %d)", o.conc), r, len(reqs))
	line(fmt.Sprintf("steady sweep (concurrency %d)", o.conc), s, len(reqs))
	var n bench.Measurement
	if o.naive {
		n = bench.Median(naives)
		line("naive (sequential)", n, tg.Pages())
	}
	fmt.Println()
	// Each sweep ran right after its raw fetch, in the same state of the
	// machine: the ratio is the median of the pairs' ratios. (The ratio of
	// the two medians, printed too, mixes pairs: on 12-07 it gave 1.32
	// where the pairs' median was 1.39.) The spread of the pairs shows how
	// much the machine moved during the run.
	pairs := make([]float64, len(raws))
	for i := range raws {
		pairs[i] = sweeps[i].Wall.Seconds() / raws[i].Wall.Seconds()
	}
	sr := medianOf(pairs)
	fmt.Printf("sweep/raw   = %.2f  (target <= %.1f): %s\n", sr, targetSweepRaw, verdict(sr <= targetSweepRaw))
	fmt.Printf("              each run: ")
	for _, p := range pairs {
		fmt.Printf(" %.2f", p)
	}
	fmt.Printf("\n              the median of the pairs' ratios; the ratio of the median walls is %.2f\n", s.Wall.Seconds()/r.Wall.Seconds())
	if o.naive {
		ns := n.Wall.Seconds() / s.Wall.Seconds()
		fmt.Printf("naive/sweep = %.2f  (target >= %.0f): %s\n", ns, targetNaiveSweep, verdict(ns >= targetNaiveSweep))
	}
	if o.cpuProfile != "" {
		if err := profile(o.cpuProfile, "steady sweeps", func() error { _, err := sweeper.Run(ctx); return err }); err != nil {
			return row, err
		}
	}
	if o.rawCPUProfile != "" {
		if err := profile(o.rawCPUProfile, "raw fetches", func() error { _, err := replay(""); return err }); err != nil {
			return row, err
		}
	}
	if len(o.scan) > 0 {
		return row, scanTable(ctx, o, tg)
	}
	return row, nil
}

// profile writes a CPU profile of three runs of run.
func profile(path, what string, run func() error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for range 3 {
		if err := run(); err != nil {
			return fmt.Errorf("profiled %s: %w", what, err)
		}
	}
	fmt.Printf("CPU profile of three %s: %s\n", what, path)
	return nil
}

// scanTable times the steady sweep at each concurrency.
func scanTable(ctx context.Context, o options, tg *bench.Target) error {
	fmt.Printf("\nsteady sweep by --api.concurrency (median of %d runs each)\n\n%12s %9s %11s %9s\n", o.reps, "concurrency", "wall", "orders/s", "requests")
	for _, conc := range o.scan {
		s, err := bench.NewSweeper(tg, conc)
		if err != nil {
			return err
		}
		if _, err := s.Run(ctx); err != nil { // the first sweep: the plan
			return fmt.Errorf("sweep at concurrency %d: %w", conc, err)
		}
		var ms []bench.Measurement
		reqs := 0
		for range o.reps {
			m, err := bench.Measure(0, func() error { st, err := s.Run(ctx); reqs = st.Requests; return err })
			if err != nil {
				return fmt.Errorf("sweep at concurrency %d: %w", conc, err)
			}
			ms = append(ms, m)
		}
		m := bench.Median(ms)
		fmt.Printf("%12d %8.2fs %11.0f %9d\n", conc, m.Wall.Seconds(), float64(tg.Truth.Matched)/m.Wall.Seconds(), reqs)
	}
	return nil
}

// requestsTable counts the requests of a first, second and third sweep for
// each sort order (the descending one from the sweep table).
func requestsTable(o options, desc requestsRow) error {
	fmt.Printf("\nrequests per sweep, %d orders, concurrency %d, against ceil(orders/%d) = %d; every sweep checked against Truth\n\n",
		o.orders, o.conc, bench.PageSize, desc.pages)
	fmt.Printf("%-14s %8s %8s %-14s %8s %8s %-14s %s\n", "API sort", "pages", "1st", "x (<= 1.5)", "steady", "3rd", "x (target)", "")
	allMet := true
	for _, ds := range o.sorts {
		row := desc
		if ds != (dataset{sort: simapi.SortDesc}) {
			var err error
			if row, err = countRequests(o, ds); err != nil {
				return fmt.Errorf("requests, %s: %w", ds, err)
			}
		}
		target := targetSortedSteady
		if ds.sort == simapi.Unsorted {
			target = targetUnsortedSteady
		}
		fx, sx := float64(row.first)/float64(row.pages), float64(row.steady)/float64(row.pages)
		fv, sv := fx <= targetFirst, sx <= target && row.thirdPages == row.steadyPages
		allMet = allMet && fv && sv
		fmt.Printf("%-14s %8d %8d %5.2f %-8s %8d %8d %5.2f (<= %.1f) %-8s\n", ds, row.pages,
			row.first, fx, verdict(fv), row.steady, row.third, sx, target, verdict(sv))
	}
	fmt.Printf("\nrequests per sweep within target for every sort, first and steady: %s\n", verdict(allMet))
	return nil
}

func countRequests(o options, ds dataset) (requestsRow, error) {
	row := requestsRow{sort: ds.sort}
	now := time.Now().Truncate(time.Second)
	api, err := startAPI(o.tmp, o.orders, now, ds.sort, false, "-daily-peaks="+strconv.FormatBool(ds.peaks))
	if err != nil {
		return row, err
	}
	defer api.stop()
	cfg := bench.ServerConfig(o.orders, now, ds.sort)
	cfg.DailyPeaks = ds.peaks
	tg := bench.NewTarget(simapi.NewHandler(cfg), api.url)
	row.pages = tg.MinRequests()
	ctx := context.Background()
	s, err := bench.NewSweeper(tg, o.conc)
	if err != nil {
		return row, err
	}
	first, steady, _, err := bench.Learn(ctx, s, api)
	if err != nil {
		return row, err
	}
	third, err := s.Run(ctx)
	if err != nil {
		return row, fmt.Errorf("third sweep: %w", err)
	}
	row.first, row.steady, row.third = first.Requests, steady.Requests, third.Requests
	row.steadyPages, row.thirdPages = steady.Requests-steady.Proofs, third.Requests-third.Proofs
	return row, nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// scrapes is how many /metrics scrapes (each a full sweep) the exporter
// serves in the RSS table: the first sweep, then steady ones.
const scrapes = 3

// rssTable runs the exporter binary against a fakeapi of each size,
// scrapes /metrics three times, checks every exposition against Truth and
// reads the process's peak RSS.
func rssTable(o options) error {
	fmt.Printf("\nexporter process (go build ., --api.concurrency=%d, API sorted descending): %d /metrics scrapes, each a\n", o.conc, scrapes)
	fmt.Printf("full sweep checked against Truth; debt_sweep_duration_seconds and debt_sweep_requests of each,\n")
	fmt.Printf("RSS before the first scrape (idle) and VmHWM after the last (peak)\n\n")
	fmt.Printf("%9s %20s %20s %20s %10s %10s\n", "orders", "1st sweep", "2nd sweep", "3rd sweep", "idle RSS", "peak RSS")
	var peaks []float64
	for _, n := range o.rssOrders {
		r, err := exporterRSS(o, n)
		if err != nil {
			return fmt.Errorf("exporter at %d orders: %w", n, err)
		}
		fmt.Printf("%9d", n)
		for i := range scrapes {
			fmt.Printf(" %7.2fs %6d req", r.sweep[i], r.requests[i])
		}
		fmt.Printf(" %6.1f MiB %6.1f MiB\n", r.idleMiB, r.peakMiB)
		peaks = append(peaks, r.peakMiB)
	}
	worst := 0.0
	for _, p := range peaks {
		worst = max(worst, p)
	}
	fmt.Printf("\npeak RSS < %d MiB at every size: %s\n", targetRSSMiB, verdict(worst < targetRSSMiB))
	if len(peaks) > 1 {
		flat := peaks[len(peaks)-1] / peaks[0]
		fmt.Printf("peak RSS at %d / at %d orders = %.2f (flat: <= %.2f): %s\n", o.rssOrders[len(peaks)-1], o.rssOrders[0],
			flat, targetRSSFlat, verdict(flat <= targetRSSFlat))
	}
	return nil
}

type rssResult struct {
	sweep            [scrapes]float64 // debt_sweep_duration_seconds of each scrape
	requests         [scrapes]int     // debt_sweep_requests of each scrape
	idleMiB, peakMiB float64
}

func exporterRSS(o options, orders int) (rssResult, error) {
	var res rssResult
	now := time.Now().Truncate(time.Second)
	api, err := startAPI(o.tmp, orders, now, simapi.SortDesc, false)
	if err != nil {
		return res, err
	}
	defer api.stop()
	truth := bench.NewTarget(simapi.NewHandler(bench.ServerConfig(orders, now, simapi.SortDesc)), api.url).Truth

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
		if res.requests[i], err = bench.CheckExposition(truth, strings.NewReader(string(body))); err != nil {
			return res, fmt.Errorf("scrape %d: %w", i+1, err)
		}
		res.sweep[i] = sweepDuration(string(body))
	}
	res.peakMiB, err = vmHWM(cmd.Process.Pid)
	return res, err
}

// sweepDuration reads debt_sweep_duration_seconds from an exposition.
func sweepDuration(text string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, "debt_sweep_duration_seconds "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// apiProcess is a fakeapi process; it switches its recording on and off
// through its standard input (bench.Recording).
type apiProcess struct {
	url   string
	tmp   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	n     int
}

// startAPI runs fakeapi and waits until it serves.
func startAPI(tmp string, orders int, now time.Time, sort int, prerender bool, more ...string) (*apiProcess, error) {
	cmd := exec.Command(filepath.Join(tmp, "fakeapi"), append([]string{"-orders", strconv.Itoa(orders),
		"-now", strconv.FormatInt(now.Unix(), 10), "-sort", bench.SortName(sort),
		"-prerender=" + strconv.FormatBool(prerender), "-lifetime", "30m"}, more...)...)
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
	p := &apiProcess{tmp: tmp, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadString('\n')
	if url, ok := strings.CutPrefix(strings.TrimSpace(line), "URL "); err == nil && ok {
		p.url = url
		return p, nil
	}
	p.stop()
	return nil, fmt.Errorf("fakeapi did not start: %q %v", line, err)
}

func (p *apiProcess) command(c string) (string, error) {
	if _, err := fmt.Fprintln(p.stdin, c); err != nil {
		return "", fmt.Errorf("fakeapi %s: %w", c, err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("fakeapi %s: %w", c, err)
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "ok") {
		return "", fmt.Errorf("fakeapi %s: %s", c, line)
	}
	return line, nil
}

// Start switches fakeapi's recording on.
func (p *apiProcess) Start() error { return p.StartProfile("") }

// StartProfile is Start and, given a path, fakeapi's CPU profile until Stop.
func (p *apiProcess) StartProfile(path string) error {
	_, err := p.command(strings.TrimSpace("record " + path))
	return err
}

// Stop switches it off and reads what it recorded.
func (p *apiProcess) Stop() ([]bench.Request, error) {
	p.n++
	path := filepath.Join(p.tmp, fmt.Sprintf("requests-%d.txt", p.n))
	if _, err := p.command("stop " + path); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bench.ReadRequests(f)
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

// medianOf returns the median of xs (the mean of the middle two for an
// even count); xs is left as it was.
func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
