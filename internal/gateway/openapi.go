package gateway

import (
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/fibergate/fibergate"
)

// NDJSON is the content type of a server stream (WatchTask) over REST: one JSON object per
// line, as the OpenAPI description declares. An error before the first line is an ordinary
// JSON error answer.
const NDJSON = "application/x-ndjson"

// marshaler is the gateway's JSON marshaler, with server streams served as NDJSON.
type marshaler struct {
	*runtime.HTTPBodyMarshaler
}

// StreamContentType is the Content-Type of a server stream's answer.
func (marshaler) StreamContentType(any) string { return NDJSON }

// Paths of the OpenAPI description served by the gateway, without authentication.
const (
	OpenAPIPath   = "/openapi.json"   // OpenAPI 3.0
	OpenAPIv2Path = "/openapiv2.json" // OpenAPI 2.0 (Swagger)
)

// serveOpenAPI registers GET OpenAPIPath and OpenAPIv2Path on mux, so that a REST user can
// point a client generator or a documentation viewer at the server.
func serveOpenAPI(mux *runtime.ServeMux) error {
	for path, doc := range map[string][]byte{OpenAPIPath: fibergate.OpenAPIv3(), OpenAPIv2Path: fibergate.OpenAPIv2()} {
		err := mux.HandlePath(http.MethodGet, path, func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(doc)))
			_, _ = w.Write(doc)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
