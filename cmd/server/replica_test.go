package main

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultReplicaID(t *testing.T) {
	for _, tt := range []struct {
		host   string
		err    error
		prefix string
	}{
		{"web-7f9c.prod.example", nil, "web-7f9c.prod.example-"},
		{"héte ", nil, "hte-"},
		{"", nil, "fibergate-"},
		{"ignored", errors.New("no host name"), "fibergate-"},
		{strings.Repeat("h", 300), nil, strings.Repeat("h", maxReplicaIDLen-7) + "-"},
	} {
		id := defaultReplicaID(func() (string, error) { return tt.host, tt.err })
		if !strings.HasPrefix(id, tt.prefix) || len(id) != len(tt.prefix)+6 || !validReplicaID(id) {
			t.Errorf("host %q, %v: id %q, want %q and 6 hex digits, valid", tt.host, tt.err, id, tt.prefix)
		}
	}
	a, b := defaultReplicaID(func() (string, error) { return "h", nil }), defaultReplicaID(func() (string, error) { return "h", nil })
	if a == b {
		t.Errorf("two default ids on one host are both %q", a)
	}
}

func TestConfigReplicaAndLease(t *testing.T) {
	cfg, err := parseWith([]string{"-replica-id", "pod-1.zone_a:x"}, map[string]string{"FIBERGATE_LEASE_TTL": "4s"})
	if err != nil || cfg.replicaID != "pod-1.zone_a:x" || cfg.leaseTTL.String() != "4s" {
		t.Errorf("-replica-id and FIBERGATE_LEASE_TTL: %q, %v, %v", cfg.replicaID, cfg.leaseTTL, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-replica-id", "a b"}, "-replica-id"},
		{[]string{"-replica-id", "x\n"}, "-replica-id"},
		{[]string{"-replica-id", strings.Repeat("r", maxReplicaIDLen+1)}, "-replica-id"},
		{[]string{"-lease-ttl", "500ms"}, "-lease-ttl must be at least 1s"},
	} {
		if _, err := parseWith(tt.args, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
