package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage/postgres"
)

// secret is the password the tests put in DSNs: it must never show.
const secret = "s3cret-pa55"

// TestOpenUnreachable: Open of a server that is not there fails at once, naming the host and
// never the password, whatever form the DSN has.
func TestOpenUnreachable(t *testing.T) {
	for _, dsn := range []string{
		"postgres://fibergate:" + secret + "@127.0.0.1:1/fibergate?sslmode=disable",
		"postgresql://fibergate@127.0.0.1:1/fibergate?password=" + secret + "&sslmode=disable",
		"host=127.0.0.1 port=1 user=fibergate password=" + secret + " dbname=fibergate sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		s, err := postgres.Open(ctx, dsn)
		elapsed := time.Since(start)
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) of a closed port succeeded", postgres.Redact(dsn))
		}
		msg := err.Error()
		if strings.Contains(msg, secret) {
			t.Errorf("the error shows the password: %s", msg)
		}
		if !strings.Contains(msg, "127.0.0.1") {
			t.Errorf("the error does not name the host: %s", msg)
		}
		// Loopback refuses at once; the bound is for a loaded machine, well under the
		// context's 20s.
		if elapsed > 10*time.Second {
			t.Errorf("Open took %v to fail", elapsed)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://u:" + secret + "@db.internal:5432/fibergate?sslmode=require",
			"postgres://u:xxxxx@db.internal:5432/fibergate?sslmode=require"},
		{"postgresql://u@db/fibergate?sslmode=disable&password=" + secret + "&x=1",
			"postgresql://u@db/fibergate?sslmode=disable&password=xxxxx&x=1"},
		{"postgres://u@db/fibergate", "postgres://u@db/fibergate"},
		{"host=db user=u password=" + secret + " dbname=fibergate", "host=db user=u password=xxxxx dbname=fibergate"},
		{"host=db password = '" + secret + " \\' x' dbname=fibergate", "host=db password = xxxxx dbname=fibergate"},
		{"POSTGRES://u:" + secret + "@db%zz/fibergate", "postgres://xxxxx"}, // not a valid URL
	}
	for _, tt := range tests {
		got := postgres.Redact(tt.dsn)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("Redact(%q) = %q shows the password", tt.dsn, got)
		}
	}
}
