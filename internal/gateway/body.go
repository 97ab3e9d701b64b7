package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
)

// bodyChecker knows, for each route with a request body, the message the body decodes into.
// It is read-only after construction and safe for concurrent use.
type bodyChecker struct {
	routes map[string]protoreflect.MessageDescriptor // "POST /v1/x/{id=*}:cancel" → input
	mux    *runtime.ServeMux                         // for error answers; set by New before serving
}

var templateVar = regexp.MustCompile(`\{([a-z_.]+)\}`)

// newBodyChecker reads the google.api.http rules of the service's methods.
func newBodyChecker() (*bodyChecker, error) {
	sd := cdv1.File_fibergate_contactdetails_v1_contact_details_proto.Services().ByName("ContactDetailsService")
	if sd == nil {
		return nil, errors.New("gateway: service descriptor not found")
	}
	bc := &bodyChecker{routes: map[string]protoreflect.MessageDescriptor{}}
	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule.GetBody() == "" {
			continue
		}
		var verb, tmpl string
		switch p := rule.GetPattern().(type) {
		case *annotations.HttpRule_Post:
			verb, tmpl = http.MethodPost, p.Post
		case *annotations.HttpRule_Put:
			verb, tmpl = http.MethodPut, p.Put
		case *annotations.HttpRule_Patch:
			verb, tmpl = http.MethodPatch, p.Patch
		default:
			continue
		}
		// runtime.Pattern.String writes a variable {x} as {x=*}.
		bc.routes[verb+" "+templateVar.ReplaceAllString(tmpl, "{$1=*}")] = m.Input()
	}
	return bc, nil
}

type unknownFieldsKey struct{}

func unknownFieldsFrom(ctx context.Context) []string {
	paths, _ := ctx.Value(unknownFieldsKey{}).([]string)
	return paths
}

// middleware limits every body to max bytes and checks the JSON body of each route that has
// one before the generated handler decodes it: a body of the wrong shape is answered with
// INVALID_ARGUMENT naming the field, and the paths of unknown fields travel on in the request
// context (see the WithMetadata annotator in New).
func (bc *bodyChecker) middleware(max int64) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			if r.Body == nil || r.Body == http.NoBody {
				next(w, r, params)
				return
			}
			pattern, _ := runtime.HTTPPattern(r.Context())
			md := bc.routes[r.Method+" "+pattern.String()]
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					writeError(bc.mux, w, r, errBodyTooLarge(max))
					return
				}
				if isReadTimeout(err) {
					bc.writeRequestTimeout(w, r)
					return
				}
				writeError(bc.mux, w, r, apierr.BadRequest("", "reading the request body failed", "body.read"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if md != nil && len(bytes.TrimSpace(body)) > 0 {
				unknown, err := checkJSON(md, body)
				if err != nil {
					writeError(bc.mux, w, r, err)
					return
				}
				if len(unknown) > 0 {
					r = r.WithContext(context.WithValue(r.Context(), unknownFieldsKey{}, unknown))
				}
			}
			next(w, r, params)
		}
	}
}

// checkJSON checks body against md: it returns the paths of unknown fields, or an
// INVALID_ARGUMENT status naming the first field of the wrong JSON type.
func checkJSON(md protoreflect.MessageDescriptor, body []byte) ([]string, error) {
	w := &jsonWalker{}
	if err := w.walk(body, md); err != nil {
		return nil, err
	}
	// protojson is the authority on what the gateway will accept (UTF-8, number ranges, …).
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, dynamicpb.NewMessage(md)); err != nil {
		return nil, apierr.BadRequest("", fmt.Sprintf("the body is not a valid %s: %v", md.Name(), err), "json.invalid")
	}
	return w.unknown, nil
}
