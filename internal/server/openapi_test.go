package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/fibergate/fibergate"
	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/gateway"
	"github.com/fibergate/fibergate/internal/server"
)

// TestOpenAPIIsServedWithoutAToken: the REST port serves the OpenAPI description, 3.0 and
// 2.0, to anybody, also when the API needs a token.
func TestOpenAPIIsServedWithoutAToken(t *testing.T) {
	tokens, err := auth.ParseTokens(strings.NewReader("alice " + auth.HashToken("tok-openapi-7c2d") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, httpAddr := serve(t, server.Config{Service: slowService{}, Tokens: tokens})
	for path, want := range map[string][]byte{gateway.OpenAPIPath: fibergate.OpenAPIv3(), gateway.OpenAPIv2Path: fibergate.OpenAPIv2()} {
		code, header, body := restDo(t, http.MethodGet, "http://"+httpAddr+path, "", nil)
		if code != http.StatusOK || header.Get("Content-Type") != "application/json" || !bytes.Equal(body, want) {
			t.Errorf("GET %s: %d %q, %d bytes; want 200, application/json, the %d bytes of the description",
				path, code, header.Get("Content-Type"), len(body), len(want))
		}
	}
	if code, _, _ := restDo(t, http.MethodGet, "http://"+httpAddr+"/v1/contact-details/batch", "", nil); code != http.StatusUnauthorized {
		t.Errorf("ListTasks without a token: %d, want 401", code)
	}
}
