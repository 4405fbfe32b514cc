// Command simapi serves the simulated ListUnpaidOrders API on its own, on a
// fixed address, so that the exporter can be run against it as against the
// real API (flags, key file and all):
//
//	go run ./cmd/simapi --listen=127.0.0.1:9847
//
// It prints the endpoint, the public key and a file holding the private key
// (the demo keys: they protect nothing, the data is synthetic).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9847", "address to serve the simulated API on")
	orders := fs.Int("orders", 20000, "number of synthetic unpaid orders, 1 to 1000000")
	seed := fs.Int64("seed", 1, "dataset seed")
	keyFile := fs.String("private-key-file", filepath.Join(os.TempDir(), "simapi-private-key"), "where to write the demo private key (mode 0600)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *orders < 1 || *orders > 1_000_000 {
		fmt.Fprintf(stderr, "simapi: error: --orders %d is outside 1 to 1000000\n", *orders)
		return 2
	}
	if err := writeKeyFile(*keyFile, simapi.DemoPrivateKey+"\n"); err != nil {
		fmt.Fprintf(stderr, "simapi: error: --private-key-file: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "simapi: error: --listen: %v\n", err)
		return 1
	}
	api := simapi.NewWithListener(simapi.Config{Seed: *seed, Orders: *orders, InvalidAmountEvery: 1000, Varied: true}, ln)
	defer api.Close()
	fmt.Fprintf(stdout, "simulated ListUnpaidOrders API with %d synthetic orders at %s/\n", *orders, api.URL)
	fmt.Fprintf(stdout, "run the exporter against it:\n  DEBT_EXPORTER_PUBLIC_KEY=%s ./debt_exporter --api.endpoint=%s/ --api.private-key-file=%s\n",
		simapi.DemoPublicKey, api.URL, *keyFile)
	<-ctx.Done()
	return 0
}

// writeKeyFile writes the key in a file of mode 0600. os.WriteFile would
// keep the mode of a file already there (from another run, or made by
// hand), and the exporter's user may copy this setup for a real key.
func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Before writing: the key is never in a file others may read.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(key); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
