package main

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// maxReplicaIDLen bounds a replica id, which goes into every log line, a metric label and
// the store's leases.
const maxReplicaIDLen = 128

// replicaIDRune reports whether r may be part of a replica id: the characters of host names,
// pod names and the like, none of which a log line, label or SQL text needs to escape.
func replicaIDRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._:-", r)
}

// validReplicaID reports whether id may name a replica.
func validReplicaID(id string) bool {
	return id != "" && len(id) <= maxReplicaIDLen && !strings.ContainsFunc(id, func(r rune) bool { return !replicaIDRune(r) })
}

// defaultReplicaID names a replica that was given no -replica-id: its host name (as hostname
// returns it, without the characters an id may not hold; "fibergate" if nothing is left) and
// 6 random hex digits, so that two processes on one host differ too.
func defaultReplicaID(hostname func() (string, error)) string {
	host, err := hostname()
	if err != nil {
		host = ""
	}
	host = strings.Map(func(r rune) rune {
		if replicaIDRune(r) {
			return r
		}
		return -1
	}, host)
	if host == "" {
		host = "fibergate"
	}
	host = host[:min(len(host), maxReplicaIDLen-7)]
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix) // crypto/rand's Read never fails
	return host + "-" + hex.EncodeToString(suffix)
}
