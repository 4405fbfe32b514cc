// Package simapi simulates the provider's ListUnpaidOrders API — a real
// HTTP(S) server as strict as the provider, over a live, deterministic
// account — and gives the exact answer any sweep of it must find.
//
//	srv := simapi.New(simapi.Config{Seed: 1, Orders: 5000, InvalidAmountEvery: 97})
//	defer srv.Close()
//	// point the client at srv.URL with simapi.DemoPublicKey / DemoPrivateKey
//	want := srv.Truth(apiclient.Query{Start: from, End: to})
//	// want.Series[simapi.Key{Region: "cn-wlcb", ModelID: "deepseek-r1",
//	//     ProductCode: "modelverse", Currency: "CNY"}].Amount is exact.
//
// Servers: New (loopback HTTP), NewTLS (loopback HTTPS with a self-signed
// certificate: CertPool, Certificate, Client), NewWithListener (the
// exporter's demo mode), NewHandler (no listener; Handler()). The package
// does not use net/http/httptest, so that the exporter can link it.
//
// Config (all deterministic given Seed; the zero value is a valid empty
// server):
//   - Seed, Orders, Now, Span: the base orders, CreateTimes in
//     (Now-Span, Now], descending with the id.
//   - PublicKey, PrivateKey, ProjectID: what requests must be signed with
//     and send (defaults DemoPublicKey, DemoPrivateKey, no ProjectId).
//   - Sort: SortDesc (default: CreateTime descending, then OrderNo),
//     SortAsc, Unsorted (a stable hash order).
//   - EndTimeExclusive: window [StartTime, EndTime) instead of the default
//     [StartTime, EndTime]. Truth and UnpaidOrderNos follow it.
//   - Varied: orders written every way a real API's are (see Config).
//     Off by default; on in the benchmark and the demo.
//   - DataWrapped, NumbersAsStrings, SendTotalCount: response dialects.
//   - InvalidAmountEvery: every Nth order has an amount that is not a plain
//     decimal; InvalidCreateTimeEvery: a CreateTime that is not an integer.
//   - DailyPeaks: orders bunch in a daily cycle instead of spreading evenly.
//   - MemoResponses: keep answers in memory by request (the benchmark);
//     Prerender fills the memo.
//
// The live account: Pay(n) and Post(n) (PostAt(n, t)) change the unpaid set
// while serving; SetChurn(pay, post) does so after every answer with data,
// SetChurnBurst(k, pay, post) once after the k-th. Offset pages are cut
// from the current set, so they shift as a real API's do. Truth(q),
// UnpaidOrderNos(q), Known(orderNo), Paid() and Posted() describe the set as
// it is now.
//
// Faults (counts n: next n requests; n < 0 until cleared; 0 clears), all
// removed by ClearFaults: FailHTTP, FailRetCode, SetLatency, TruncatePage,
// SetEndless, SetPageCap (pages of at most n orders whatever PageSize
// asks), SetRedirect (3xx with Location), SetRepeatPage, SetOutOfRange
// (an order with a CreateTime outside the window), SetAtEndTime (one at
// the request's EndTime), SetDuplicate (an OrderNo
// twice in one answer), SetRateLimit (token bucket on the real clock; 153,
// or HTTP 429 with Retry-After after SetRateLimit429), SetRandomThrottle
// (153 to a seeded random fraction), SetThrottleNext (429 with a given
// Retry-After). Counters: Requests, Admitted,
// Throttled; the request log: LastRequests, LastRequest.
//
// The dataset: regions cn-wlcb, cn-sh2, hk, us-ca, cn-bj2 and "" (empty);
// product modelverse (models deepseek-r1, deepseek-v3, qwen-max, glm-4,
// kimi-k2, wanx2.1-t2i-turbo and "", plus 通义千问-max, whose amounts are
// 5e7 to 1e8, and acme/"q\\uoted"\model when Varied) and sandbox (ModelID
// always ""); currency USD in us-ca, CNY or USD in hk, CNY elsewhere; six
// API keys (ResourceID uk-...) in three organisations whose names carry
// quotes, a backslash, <R&D>, CJK and an emoji. OrderNos are the seed's
// prefix, then "1" and the id for base orders, "2" and the rank for posted
// ones, "E" for endless pages and "X" for out-of-range orders (not in the
// data).
package simapi
