package exportertest

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFreeAddr: addresses below the ephemeral range, never the same twice,
// each one a process can listen on; and one in use is never given.
func TestFreeAddr(t *testing.T) {
	low, high := fixedPortRange()
	require.Less(t, low, high)
	// Hold a port of the range, so that FreeAddr must pass it by.
	var held net.Listener
	for p := low; p < high && held == nil; p++ {
		held, _ = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	require.NotNil(t, held)
	defer held.Close()
	seen := map[string]bool{}
	for range 200 {
		addr := FreeAddr(t)
		require.False(t, seen[addr], addr)
		seen[addr] = true
		assert.NotEqual(t, held.Addr().String(), addr)
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		n, err := strconv.Atoi(port)
		require.NoError(t, err)
		assert.True(t, n >= low && n < high, "%d outside %d-%d", n, low, high)
		l, err := net.Listen("tcp", addr)
		require.NoError(t, err)
		l.Close()
	}
}
