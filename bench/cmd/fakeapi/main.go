// Command fakeapi serves the simulated ListUnpaidOrders API (simapi) on a
// loopback port with every page of the full window prerendered, so that a
// client measured against it pays for the transfer, not for the rendering.
//
// It prints "URL http://127.0.0.1:port" once the pages are ready, and exits
// when its standard input closes (its parent is gone) or after -lifetime.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/debt-exporter/debt_exporter/bench"
)

func main() {
	orders := flag.Int("orders", 1_000_000, "orders in the dataset")
	now := flag.Int64("now", time.Now().Unix(), "newest CreateTime, Unix seconds")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long whatever happens")
	flag.Parse()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeapi:", err)
		os.Exit(1)
	}
	srv := bench.NewServer(*orders, time.Unix(*now, 0), ln)
	fmt.Printf("URL %s\n", srv.URL)

	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(*lifetime):
	}
	srv.Close()
}
