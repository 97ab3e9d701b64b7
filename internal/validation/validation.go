// Package validation checks requests against the contract's buf.validate rules. Its
// Validator is protovalidate's, with one shortcut for StartBatchRequest, whose 2000 LinkedIn
// URLs are most of a start's validation: when every person has a URL that passes
// linkedInURLValid, a Go rendering of the rules of PersonDetails.linkedin_url and of the
// LinkedInUrl in it, protovalidate validates the request without those rules. Any other
// request, and one with a person the shortcut does not accept, is validated in full, so that
// every violation is reported by protovalidate itself.
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
	// skipURLs leaves out the rules of PersonDetails.linkedin_url and of its LinkedInUrl; nil
	// when the contract's rules there are not the ones urlsValid renders: the shortcut is off.
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
		// Descriptors are compared by identity: one from elsewhere is validated in full.
		field := personURLField()
		v.skipURLs = protovalidate.WithFilter(protovalidate.FilterFunc(
			func(_ protoreflect.Message, d protoreflect.Descriptor) bool { return d != field }))
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

// urlsValid says whether every person of req passes the rules the shortcut skips: it has a
// LinkedIn URL (required), whose value passes the rules of LinkedInUrl.value.
func urlsValid(req *cdv1.StartBatchRequest) bool {
	for _, p := range req.GetPersonDetails() {
		u := p.GetLinkedinUrl()
		if u == nil || !linkedInURLValid(u.GetValue()) {
			return false
		}
	}
	return true
}

// personURLField is the descriptor of PersonDetails.linkedin_url.
func personURLField() protoreflect.FieldDescriptor {
	return (&cdv1.PersonDetails{}).ProtoReflect().Descriptor().Fields().ByName("linkedin_url")
}
