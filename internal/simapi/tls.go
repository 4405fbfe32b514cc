package simapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// NewTLS starts a server like New, but speaking HTTPS with a self-signed
// certificate made for it (ECDSA P-256, for 127.0.0.1, ::1 and localhost,
// valid from an hour ago for a day). URL is "https://127.0.0.1:port". A
// client trusts it only with CertPool (or uses Client); the system roots do
// not. It panics if the certificate or the listener cannot be made.
func NewTLS(cfg Config) *Server {
	cert, leaf, err := selfSigned()
	if err != nil {
		panic(fmt.Sprintf("simapi: cannot make a certificate: %v", err))
	}
	s := NewHandler(cfg)
	s.cert = leaf
	s.pool = x509.NewCertPool()
	s.pool.AddCert(leaf)
	ln := tls.NewListener(listenLoopback(), &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
	})
	s.serve(ln, "https://")
	return s
}

// Certificate returns the server's self-signed certificate, or nil for a
// plain HTTP server.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// CertPool returns a pool holding only the server's certificate, or nil for
// a plain HTTP server.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Client returns an HTTP client for the server: one that trusts its
// certificate for NewTLS, a plain one otherwise. Redirects are not followed.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func selfSigned() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "simapi", Organization: []string{"debt_exporter simapi"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}
