package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// TestServesSignedRequests: simapi listens where it is told, writes the key
// file 0600 (over a file of another mode), prints what the exporter needs,
// and answers a request signed with the keys it printed.
func TestServesSignedRequests(t *testing.T) {
	addr := exportertest.FreeAddr(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	// A file already there, readable by all, is made 0600, not kept as is.
	require.NoError(t, os.WriteFile(keyFile, []byte("an older, longer content\n"), 0o644))
	require.NoError(t, os.Chmod(keyFile, 0o644)) // whatever the umask
	var out exportertest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen=" + addr, "--orders=500", "--private-key-file=" + keyFile}, &out, &out)
	}()
	defer func() { cancel(); assert.Equal(t, 0, <-done) }()

	require.Eventually(t, func() bool { return strings.Contains(out.String(), "--api.private-key-file=") }, 10*time.Second, 10*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err, "listens on --listen")
	c.Close()
	m := regexp.MustCompile(`DEBT_EXPORTER_PUBLIC_KEY=(\S+) \./debt_exporter --api\.endpoint=(\S+) --api\.private-key-file=(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	assert.Equal(t, "http://"+addr+"/", m[2])
	assert.Equal(t, keyFile, m[3])
	key, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	client, err := apiclient.New(apiclient.Config{Endpoint: m[2], PublicKey: m[1], PrivateKey: strings.TrimSpace(string(key))})
	require.NoError(t, err)
	now := time.Now()
	var mu sync.Mutex
	orders := 0
	stats, err := client.Sweep(ctx, apiclient.Query{Start: now.Add(-simapi.DefaultSpan - time.Hour), End: now.Add(time.Hour)},
		func(_ int, o []apiclient.Order) error { mu.Lock(); orders += len(o); mu.Unlock(); return nil })
	require.NoError(t, err, "signed requests are answered")
	assert.Positive(t, stats.Requests)
	assert.Equal(t, 500, orders)
}
