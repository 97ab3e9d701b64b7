package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxBin returns tmux, installing Debian's package the way the project installs its other
// Debian test dependencies (scripts/debian.sh) when it is missing: the test never skips.
func tmuxBin(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("tmux"); err == nil {
		return path
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "debian.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(script, "tmux").CombinedOutput(); err != nil {
		t.Fatalf("tmux is missing, and %s tmux failed: %v\n%s", script, err, out)
	}
	path, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux still missing after scripts/debian.sh tmux: %v", err)
	}
	return path
}

var barPercent = regexp.MustCompile(`enrich +(\d+) / (\d+) people .* (\d+) %`)

// TestEnrichShowsALiveBarInATerminal runs the client in a real terminal (a tmux pane) and
// reads the screen as a person sees it: the bar moves, and ends at 100%.
func TestEnrichShowsALiveBarInATerminal(t *testing.T) {
	tmux := tmuxBin(t)
	s := startEnrichStack(t, 300) // one batch of 1,500 people: 5s
	dir := t.TempDir()
	spreadsheet(t, dir, 1500, nil)
	socket := "fibergate-enrich-test-" + strconv.Itoa(os.Getpid())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	script := "cd '" + dir + "' && env FIBERGATE_ADDR=" + s.server.GRPCAddr + " '" + cliBin + "' enrich contacts.csv -o out.csv; echo EXIT=$?; sleep 600"
	if out, err := tm("new-session", "-d", "-s", "enrich", "-x", "200", "-y", "20", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })

	seen := map[int]bool{} // percentages shown while running
	var screen string
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(screen, "EXIT=") {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end within 90s; the screen:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond) // the screen is read as a person would look at it
		out, err := tm("capture-pane", "-p", "-t", "enrich")
		if err != nil {
			t.Fatalf("capture-pane: %v\n%s", err, out)
		}
		screen = out
		for _, m := range barPercent.FindAllStringSubmatch(screen, -1) {
			pct, _ := strconv.Atoi(m[3])
			seen[pct] = true
		}
	}
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("the run failed; the screen:\n%s", screen)
	}
	if !regexp.MustCompile(`enrich +1500 / 1500 people +\[=+\] +100 %`).MatchString(screen) {
		t.Errorf("the bar does not end full at 100%%; the screen:\n%s", screen)
	}
	moving := 0
	for pct := range seen {
		if pct < 100 {
			moving++
		}
	}
	if moving < 2 {
		t.Errorf("the bar showed %d distinct percentages below 100 (%v), want it to move; the last screen:\n%s", moving, seen, screen)
	}
	if strings.Contains(screen, "progress: ") {
		t.Errorf("plain progress lines in a terminal:\n%s", screen)
	}
}
