package simapi_test

import (
	"fmt"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

func Example() {
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	srv := simapi.New(simapi.Config{Seed: 1, Orders: 1000, Now: now, InvalidAmountEvery: 100})
	defer srv.Close()

	// A client sweeps srv.URL with simapi.DemoPublicKey and DemoPrivateKey;
	// what it must find for the last week:
	truth := srv.Truth(apiclient.Query{Start: now.Add(-7 * 24 * time.Hour), End: now})
	fmt.Println(truth.Matched > 0, truth.Matched-truth.Invalid == sumOrders(truth))
	// Output: true true
}

func sumOrders(t simapi.Truth) int {
	n := 0
	for _, s := range t.Series {
		n += s.Orders
	}
	return n
}
