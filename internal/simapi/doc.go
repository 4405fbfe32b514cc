// Package simapi is a real HTTP server that speaks the provider's
// ListUnpaidOrders API as strictly as the provider does (signature, keys,
// parameters, project), over a deterministic dataset of any size, with
// faults on demand and the exact expected totals for any query.
//
//	srv := simapi.New(simapi.Config{Seed: 1, Orders: 5000, InvalidAmountEvery: 97})
//	defer srv.Close()
//	// point the client at srv.URL with simapi.DemoPublicKey / DemoPrivateKey
//	want := srv.Truth(simapi.TruthQuery{StartTime: from, EndTime: to})
//	// want.Series[simapi.Key{Region: "cn-wlcb", ModelID: "deepseek-r1",
//	//     ProductCode: "modelverse", Currency: "CNY"}].Amount is exact.
//
// For a server on a listener of one's own (the exporter's demo mode), use
// NewWithListener, or NewHandler and serve Handler().
//
// The dataset: regions cn-wlcb, cn-sh2, hk, us-ca, cn-bj2 and "" (empty);
// product modelverse (models deepseek-r1, deepseek-v3, qwen-max, glm-4,
// kimi-k2, wanx2.1-t2i-turbo and "") and sandbox (ModelID always "");
// currency USD in us-ca, CNY or USD in hk, CNY elsewhere; six API keys
// (ResourceID uk-...) in three organisations whose names are sent with JSON
// escapes.
package simapi
