package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/auth"
)

func TestTokensFile(t *testing.T) {
	file := "# callers\n\nbilling " + auth.HashToken("tok-billing") + "\ncrm-sync " + auth.HashToken("tok-crm") + "\n"
	toks, err := auth.ParseTokens(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{"tok-billing": "billing", "tok-crm": "crm-sync"} {
		if got, err := toks.Principal(token); err != nil || got != want {
			t.Errorf("Principal(%q) = %q, %v; want %q", token, got, err, want)
		}
	}
	for _, bad := range []string{"", "tok-billin", "tok-billing ", auth.HashToken("tok-billing")} {
		if _, err := toks.Principal(bad); !errors.Is(err, apierr.ErrUnauthenticated) {
			t.Errorf("Principal(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	for name, file := range map[string]string{
		"empty":           "# nothing\n",
		"no hash":         "billing\n",
		"bad hex":         "billing sha256:xyz\n",
		"short hash":      "billing sha256:abcd\n",
		"other algorithm": "billing md5:" + strings.Repeat("a", 32) + "\n",
		"bad name":        "bill/ing " + auth.HashToken("x") + "\n",
		"twice":           "a " + auth.HashToken("x") + "\na " + auth.HashToken("y") + "\n",
	} {
		if _, err := auth.ParseTokens(strings.NewReader(file)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "sha256:"+strings.Repeat("a", 10)) {
			t.Errorf("%s: error echoes a hash", name)
		}
	}
}

func TestAuthFunc(t *testing.T) {
	toks, err := auth.ParseTokens(strings.NewReader("svc " + auth.HashToken("secret-token") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		header string
		want   string
	}{
		{"Bearer secret-token", "svc"},
		{"bearer secret-token", "svc"},
		{"Bearer wrong", ""},
		{"Basic c2VjcmV0LXRva2Vu", ""},
		{"", ""},
	} {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", tt.header))
		ctx, err := toks.AuthFunc(ctx)
		if tt.want == "" {
			// The domain error, which the error interceptor turns into UNAUTHENTICATED.
			st := status.Convert(apierr.ToStatus(err))
			if !errors.Is(err, apierr.ErrUnauthenticated) || st.Code() != codes.Unauthenticated || strings.Contains(err.Error()+st.Message(), "secret") {
				t.Errorf("%q: %v, want ErrUnauthenticated (UNAUTHENTICATED) without the token", tt.header, err)
			}
			continue
		}
		if p, ok := auth.PrincipalFrom(ctx); err != nil || !ok || p != tt.want {
			t.Errorf("%q: principal %q, %v", tt.header, p, err)
		}
	}
	if !auth.Exempt(true)("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") || auth.Exempt(false)("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") {
		t.Error("reflection exemption not as configured")
	}
	if !auth.Exempt(false)("/grpc.health.v1.Health/Check") || auth.Exempt(true)("/fibergate.contactdetails.v1.ContactDetailsService/StartBatch") {
		t.Error("health must be exempt, the service never")
	}
}
