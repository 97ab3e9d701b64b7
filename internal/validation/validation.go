// Package validation checks requests against the contract's buf.validate rules. Its
// Validator is protovalidate's, with one shortcut: a StartBatchRequest whose LinkedIn URLs all
// pass linkedInURLValid, a Go rendering of the rules of LinkedInUrl.value, is validated
// without evaluating those rules again, which are most of a 2000-person start's validation.
// Any other request, and one with a URL the shortcut does not accept, is validated in full,
// so that every violation is reported by protovalidate itself.
package validation

import (
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// Validator is a protovalidate.Validator for the contract's messages. It is safe for
// concurrent use.
type Validator struct {
	pv protovalidate.Validator
	// skipURLs leaves out the rules of LinkedInUrl.value; nil when the contract's rules of
	// that field are not the ones linkedInURLValid renders, and the shortcut is off.
	skipURLs protovalidate.ValidationOption
}

var _ protovalidate.Validator = (*Validator)(nil)

// New builds a Validator. Build one and share it: building compiles the rules.
func New() (*Validator, error) {
	pv, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	v := &Validator{pv: pv}
	if urlRulesMatch() {
		value := urlValueField()
		v.skipURLs = protovalidate.WithFilter(protovalidate.FilterFunc(
			func(_ protoreflect.Message, d protoreflect.Descriptor) bool { return d != value }))
	}
	return v, nil
}

// Validate validates msg as protovalidate does, with the same result: nil, or the same
// *protovalidate.ValidationError.
func (v *Validator) Validate(msg proto.Message, opts ...protovalidate.ValidationOption) error {
	if req, ok := msg.(*cdv1.StartBatchRequest); ok && len(opts) == 0 && v.skipURLs != nil && urlsValid(req) {
		return v.pv.Validate(msg, v.skipURLs)
	}
	return v.pv.Validate(msg, opts...)
}

// urlsValid says whether every person of req has a LinkedIn URL that passes the rules of
// LinkedInUrl.value.
func urlsValid(req *cdv1.StartBatchRequest) bool {
	for _, p := range req.GetPersonDetails() {
		u := p.GetLinkedinUrl()
		if u == nil || !linkedInURLValid(u.GetValue()) {
			return false
		}
	}
	return true
}

// urlValueField is the descriptor of LinkedInUrl.value.
func urlValueField() protoreflect.FieldDescriptor {
	return (&cdv1.LinkedInUrl{}).ProtoReflect().Descriptor().Fields().ByName("value")
}
