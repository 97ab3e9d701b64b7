package service

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// Tokens are opaque to clients: base64url of "<kind>1|<task id>|<position>". The kind and
// task id stop a token of one task or kind from being used with another. They carry no
// secret: a forged token can only name a position in the caller's own task.
const (
	kindResume  = "w1"
	kindResults = "r1"
	kindList    = "l1"
)

func encodeToken(kind, scope, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + scope + "|" + pos))
}

func decodeToken(tok, kind, scope string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", tasks.ErrBadToken
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != kind || parts[1] != scope {
		return "", tasks.ErrBadToken
	}
	return parts[2], nil
}

// seqToken encodes a position in a task's results.
func seqToken(kind, taskID string, seq int) string {
	return encodeToken(kind, taskID, strconv.Itoa(seq))
}

// parseSeqToken decodes a seqToken; "" means the start.
func parseSeqToken(tok, kind, taskID string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	s, err := decodeToken(tok, kind, taskID)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, tasks.ErrBadToken
	}
	return n, nil
}

// listToken encodes a ListTasks position; the owner is part of its scope.
func listToken(owner string, k storage.PageKey) string {
	return encodeToken(kindList, owner, fmt.Sprintf("%d|%s", k.CreateTime.UnixNano(), k.ID))
}

func parseListToken(tok, owner string) (storage.PageKey, error) {
	if tok == "" {
		return storage.PageKey{}, nil
	}
	s, err := decodeToken(tok, kindList, owner)
	if err != nil {
		return storage.PageKey{}, err
	}
	ns, id, ok := strings.Cut(s, "|")
	n, perr := strconv.ParseInt(ns, 10, 64)
	if !ok || perr != nil || id == "" || n < 0 {
		return storage.PageKey{}, tasks.ErrBadToken
	}
	return storage.PageKey{CreateTime: time.Unix(0, n).UTC(), ID: id}, nil
}
