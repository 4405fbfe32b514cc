package apiclient_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// variedPages renders pages of a Varied simulated account once, through
// the server's own handler, as a sweep would receive them.
var variedPages = func() func(tb testing.TB) [][]byte {
	var pages [][]byte
	return func(tb testing.TB) [][]byte {
		tb.Helper()
		if pages != nil {
			return pages
		}
		srv := simapi.NewHandler(simapi.Config{Seed: 7, Orders: 30_000, Now: time.Unix(1767225600, 0),
			Varied: true, InvalidAmountEvery: 500})
		q := srv.Query()
		for p := 1; p <= 300; p++ {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(srv.SignedForm(q, p, 100).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				tb.Fatalf("page %d: HTTP %d: %s", p, rec.Code, rec.Body)
			}
			pages = append(pages, rec.Body.Bytes())
		}
		return pages
	}
}()

// TestVariedPagesAreReadByShapes: on pages written every way the simulated
// API writes them, shapes read nearly every order, and read each exactly
// as the member by member path does.
func TestVariedPagesAreReadByShapes(t *testing.T) {
	pages := variedPages(t)
	shapes, plain := apiclient.NewPageDecoder(), apiclient.NewPageDecoderWithoutShapes()
	orders := 0
	for _, body := range pages {
		n, err := shapes.Decode(body)
		require.NoError(t, err)
		_, err = plain.Decode(body)
		require.NoError(t, err)
		require.Equal(t, plain.Orders(), shapes.Orders())
		orders += n
	}
	t.Logf("%d of %d orders read by a shape", shapes.ShapeHits(), orders)
	require.Greater(t, shapes.ShapeHits(), orders*9/10)
	require.Zero(t, plain.ShapeHits())
}

// BenchmarkDecodeVariedPages decodes 300 pages of 100 varied orders (raw
// and escaped text, keys in several orders, compact, spaced and indented
// JSON), reporting the cost per order.
func BenchmarkDecodeVariedPages(b *testing.B) {
	b.Run("shapes", func(b *testing.B) { benchmarkDecodeVaried(b, apiclient.NewPageDecoder()) })
	b.Run("member-by-member", func(b *testing.B) { benchmarkDecodeVaried(b, apiclient.NewPageDecoderWithoutShapes()) })
}

func benchmarkDecodeVaried(b *testing.B, d *apiclient.PageDecoder) {
	pages := variedPages(b)
	var bytes, orders int
	for _, body := range pages {
		n, err := d.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(body)
		orders += n
	}
	if orders != 100*len(pages) {
		b.Fatalf("%d orders in %d pages", orders, len(pages))
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, body := range pages {
			if _, err := d.Decode(body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(orders), "ns/order")
	b.ReportMetric(float64(testing.AllocsPerRun(3, func() {
		for _, body := range pages {
			if _, err := d.Decode(body); err != nil {
				b.Fatal(err)
			}
		}
	}))/float64(orders), "allocs/order")
}

// BenchmarkDecodeFloor measures, on the same varied pages, what any
// decoder of this design must pay, per order: the stop index alone, a walk
// from stop to stop that does nothing at each (about 150 stops an order),
// and a plain byte loop over the body, beside the decode itself. The walk
// is a chain of dependent loads, and its cost bounds the decoder's.
func BenchmarkDecodeFloor(b *testing.B) {
	pages := variedPages(b)
	d := apiclient.NewPageDecoder()
	perOrder := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(100*len(pages)), "ns/order")
	}
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			for _, body := range pages {
				d.IndexStops(body)
			}
		}
		perOrder(b)
	})
	b.Run("walk", func(b *testing.B) {
		stops := 0
		for b.Loop() {
			for _, body := range pages {
				stops += d.WalkStops(body)
			}
		}
		perOrder(b)
		b.ReportMetric(float64(stops)/float64(b.N)/float64(100*len(pages)), "stops/order")
	})
	b.Run("bytes", func(b *testing.B) {
		commas := 0
		for b.Loop() {
			for _, body := range pages {
				for _, c := range body {
					if c == ',' {
						commas++
					}
				}
			}
		}
		perOrder(b)
		if commas == 0 {
			b.Fatal("no commas")
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			for _, body := range pages {
				if _, err := d.Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		}
		perOrder(b)
	})
}
