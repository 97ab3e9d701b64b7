package tlstest_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/fibergate/fibergate/internal/tlstest"
)

func TestIssuedCertificatesVerifyAgainstTheirCAOnly(t *testing.T) {
	ca, other := tlstest.NewCA(t, "test CA"), tlstest.NewCA(t, "other CA")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	server, _ := ca.Issue(t, "server", true)
	leaf := ca.KeyPair(t, "client").Leaf
	if leaf == nil {
		t.Fatal("KeyPair: no parsed leaf")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := other.KeyPair(t, "client").Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("another CA's client certificate verified")
	}
	block, _ := pem.Decode(server)
	if block == nil {
		t.Fatal("server certificate: not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca.PEM) {
		t.Error("CA: not PEM")
	}
}
