package launcher

import (
	"testing"
	"time"
)

// TestGiveUp: the sweep waits sweepLimit on holders that do not die, starts
// that wait again whenever a round kills a new holder (a tree still
// forking), and never goes on past sweepCap.
func TestGiveUp(t *testing.T) {
	begun := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return begun.Add(d) }
	for _, c := range []struct {
		name          string
		now, progress time.Duration
		want          bool
	}{
		{"just begun", 0, 0, false},
		{"stuck for the limit", sweepLimit, 0, false},
		{"stuck past the limit", sweepLimit + time.Millisecond, 0, true},
		{"still killing, past the limit", sweepLimit + time.Second, sweepLimit, false},
		{"still killing, at the cap", sweepCap, sweepCap - time.Second, false},
		{"still killing, past the cap", sweepCap + time.Millisecond, sweepCap, true},
		{"stuck after killing", sweepLimit + sweepLimit + time.Millisecond, sweepLimit, true},
	} {
		if got := giveUp(at(c.now), begun, at(c.progress)); got != c.want {
			t.Errorf("%s: giveUp(now %s, last kill %s) = %v, want %v", c.name, c.now, c.progress, got, c.want)
		}
	}
}
