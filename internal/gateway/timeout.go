package gateway

import (
	"errors"
	"net/http"
	"os"

	"google.golang.org/grpc/codes"

	"github.com/fibergate/fibergate/internal/apierr"
)

// isReadTimeout reports whether err is the failure of reading a body past the read deadline
// the HTTP server sets (http.Server.ReadTimeout).
func isReadTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// errRequestTimeout is the answer to a body that did not arrive in time.
func errRequestTimeout() error {
	return apierr.New(codes.DeadlineExceeded, apierr.ReasonRequestTimeout, "the request body did not arrive in time", nil)
}

// writeRequestTimeout answers a body that did not arrive in time: HTTP 408, DEADLINE_EXCEEDED.
// net/http closes the connection after the answer: the rest of the body cannot be read.
func (bc *bodyChecker) writeRequestTimeout(w http.ResponseWriter, r *http.Request) {
	writeError(bc.mux, &statusOverride{ResponseWriter: w, code: http.StatusRequestTimeout}, r, errRequestTimeout())
}
