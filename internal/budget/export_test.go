package budget

// ArmedTimers counts the buckets of l whose timer is armed.
func (l *Limiter) ArmedTimers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, b := range l.buckets {
		if b.timer != nil {
			n++
		}
	}
	return n
}
