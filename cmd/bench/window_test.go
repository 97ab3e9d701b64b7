package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func TestQuietShare(t *testing.T) {
	t0 := time.Now()
	ticks := []tick{
		{sampleAt(t0, 0, 0), 0},
		{sampleAt(t0, 1, 10), 0},    // quiet, but no interval before it to look at
		{sampleAt(t0, 2, 20), 0},    // quiet: 10ms
		{sampleAt(t0, 3, 520), 240}, // the burst
		{sampleAt(t0, 4, 620), 240}, // after the burst: its aftermath, not counted
		{sampleAt(t0, 5, 630), 240}, // quiet: 10ms
		{sampleAt(t0, 6, 650), 240}, // quiet: 20ms
	}
	share, wall := quietShare(ticks)
	if wall != 3*time.Second {
		t.Errorf("quiet time %v, want 3s", wall)
	}
	if want := 0.04 / 3; share < want*0.999 || share > want*1.001 {
		t.Errorf("quiet share %v, want %v (40ms over 3s)", share, want)
	}
	if share, wall := quietShare(ticks[2:5]); share != 0 || wall != 0 {
		t.Errorf("no quiet interval: %v over %v, want 0 over 0", share, wall)
	}
}

func TestUpdatedBetween(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	task := func(s int, results int32) *cdv1.Task {
		return &cdv1.Task{UpdateTime: timestamppb.New(t0.Add(time.Duration(s) * time.Second)), NumResults: results}
	}
	tasks := []*cdv1.Task{task(-1, 1), task(0, 2), task(30, 3), task(60, 4), task(61, 5)}
	if got := updatedBetween(tasks, t0, t0.Add(time.Minute)); got != 3 {
		t.Errorf("updatedBetween = %d, want 3 (the window's ends included)", got)
	}
	if got := storedResults(tasks); got != 15 {
		t.Errorf("storedResults = %d, want 15", got)
	}
}
