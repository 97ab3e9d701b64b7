package fiber

import (
	"strconv"
	"unicode/utf8"
)

// Request bodies are written by hand with append: a start carries up to 2000 URLs, and this
// is several times faster than encoding/json with no allocation beyond the output buffer.
// Field order and escaping match encoding/json.Marshal exactly; the tests hold it to that.

// AppendStartBody appends the JSON body of a start request to dst and returns the extended
// slice:
//
//	{"apiKey":K,"personDetails":[{"linkedinUrl":{"value":U}},...],"enrichmentTypes":{...}}
//
// personDetails is always an array ("[]" without URLs); enrichmentTypes is left out when
// req.EnrichmentTypes is nil, and so is each of its nil fields. The bytes are those that
// encoding/json.Marshal gives for the equivalent tagged structs, escaping included (HTML-safe
// escapes, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD). It allocates only when
// dst lacks capacity, and is safe for concurrent use.
func AppendStartBody(dst []byte, apiKey string, req StartRequest) []byte {
	dst = append(dst, `{"apiKey":`...)
	dst = appendString(dst, apiKey)
	dst = append(dst, `,"personDetails":[`...)
	for i, u := range req.LinkedInURLs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"linkedinUrl":{"value":`...)
		dst = appendString(dst, u)
		dst = append(dst, `}}`...)
	}
	dst = append(dst, ']')
	if et := req.EnrichmentTypes; et != nil {
		dst = append(dst, `,"enrichmentTypes":{`...)
		n := len(dst)
		dst = appendBoolField(dst, n, "getWorkEmails", et.WorkEmails)
		dst = appendBoolField(dst, n, "getPersonalEmails", et.PersonalEmails)
		dst = appendBoolField(dst, n, "getPhoneNumbers", et.PhoneNumbers)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// startBodySize estimates the length of a start body, so that the buffer is allocated once in
// the common case of URLs that need no escaping.
func startBodySize(apiKey string, req StartRequest) int {
	n := len(`{"apiKey":"","personDetails":[],"enrichmentTypes":{}}`) + len(apiKey) + 96
	for _, u := range req.LinkedInURLs {
		n += len(`{"linkedinUrl":{"value":""}},`) + len(u)
	}
	return n
}

// appendPollBody appends the JSON body of a poll request: cursor is left out when nil and
// take when 0.
func appendPollBody(dst []byte, apiKey string, req PollRequest) []byte {
	dst = append(dst, `{"apiKey":`...)
	dst = appendString(dst, apiKey)
	dst = append(dst, `,"taskId":`...)
	dst = appendString(dst, req.TaskID)
	if req.Cursor != nil {
		dst = append(dst, `,"cursor":`...)
		dst = appendString(dst, *req.Cursor)
	}
	if req.Take != 0 {
		dst = append(dst, `,"take":`...)
		dst = strconv.AppendInt(dst, int64(req.Take), 10)
	}
	return append(dst, '}')
}

// appendCancelBody appends the JSON body of a cancel request.
func appendCancelBody(dst []byte, apiKey, taskID string) []byte {
	dst = append(dst, `{"apiKey":`...)
	dst = appendString(dst, apiKey)
	dst = append(dst, `,"taskId":`...)
	dst = appendString(dst, taskID)
	return append(dst, '}')
}

// appendBoolField appends `"name":v` to an object whose members start at dst[start:], with a
// separating comma unless it is the first member; nothing when v is nil.
func appendBoolField(dst []byte, start int, name string, v *bool) []byte {
	if v == nil {
		return dst
	}
	if len(dst) > start {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return strconv.AppendBool(dst, *v)
}

// htmlSafe marks with '1' the ASCII bytes that encoding/json.Marshal writes unescaped: all but
// control bytes, '"', '\\', '<', '>' and '&'.
const htmlSafe = "" +
	"00000000000000000000000000000000" + // 0x00-0x1f
	"11011101111111111111111111110101" + // 0x20-0x3f: '"' '&' '<' '>'
	"11111111111111111111111111110111" + // 0x40-0x5f: '\\'
	"11111111111111111111111111111111" //   0x60-0x7f

// appendString appends s as a JSON string, escaped exactly as encoding/json.Marshal does.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight bytes at a time while none needs escaping, the common case for URLs.
		for i+8 <= len(s) {
			t := s[i : i+8]
			x := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
				uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
			if needsEscape8(x) {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if htmlSafe[b] == '1' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control bytes, and <, > and & as encoding/json's HTML-safe escapes
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// needsEscape8 reports whether one of the 8 bytes packed in x needs escaping or decoding:
// a non-ASCII byte, a control byte, or one of '"', '\\', '<', '>' and '&'. It tests all eight
// at once (SWAR). A non-ASCII byte has its high bit set in x itself. Each subtraction sets the
// high bit of a byte that is below 0x20, or zero after the XOR; it may also set it in a higher
// byte through a borrow, but only when a lower byte already matched, so the answer is exact.
func needsEscape8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	bad := x | (x - 0x20*ones)
	bad |= (x ^ '\\'*ones) - ones
	bad |= ((x | 0x02*ones) ^ '>'*ones) - ones // '<' (0x3c) or '>' (0x3e)
	bad |= ((x | 0x04*ones) ^ '&'*ones) - ones // '"' (0x22) or '&' (0x26)
	return bad&highs != 0
}
