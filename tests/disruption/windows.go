package disruption

import (
	"fmt"
	"strings"
	"time"
)

// Window is a stretch of rounds in which a refused cell answered 2xx:
// for that long, a caller the policy refuses was served. Rounds that could
// not probe neither extend nor close it.
type Window struct {
	Cell string
	// Served holds every 2xx of the stretch, in round order.
	Served []Breach
	// OpenedAt is the start of its first 2xx round. Closed: a later round
	// answered anything but 2xx, beginning at ClosedAt; not Closed, the
	// run ended first.
	OpenedAt, ClosedAt time.Duration
	Closed             bool
}

// Length is how long the window was open, at the rounds' resolution: from
// its first 2xx round's start to the start of the round that was no longer
// served (at most one round interval more than it was); for a window the
// run ended in, to its last 2xx round's start (at least that long).
func (w Window) Length() time.Duration {
	if w.Closed {
		return w.ClosedAt - w.OpenedAt
	}
	return w.Served[len(w.Served)-1].At - w.OpenedAt
}

func (w Window) String() string {
	var rounds, paths []string
	for _, b := range w.Served {
		rounds = append(rounds, fmt.Sprintf("%d (%s)", b.Round, b.Phase))
		if b.Path != "" && (len(paths) == 0 || paths[len(paths)-1] != b.Path) {
			paths = append(paths, b.Path)
		}
	}
	end := "closed"
	if !w.Closed {
		end = "still open when the run ended"
	}
	s := fmt.Sprintf("window: %s served %s from %s after start (%s), %s, rounds %s", w.Cell, w.Length().Round(time.Millisecond),
		w.OpenedAt.Round(time.Millisecond), w.Served[0].Outcome, end, strings.Join(rounds, ", "))
	if len(paths) > 0 {
		s += "; path: " + strings.Join(paths, " -> ")
	}
	return s
}

// Windows finds every stretch in which a refused cell was served, cell by
// cell in the matrix's order, each cell's in time order.
func Windows(r Result) []Window {
	var out []Window
	for _, c := range r.Cells {
		if !c.Deny {
			continue
		}
		var open *Window
		for _, o := range c.Observations {
			if o.EnvError != "" {
				continue
			}
			if !is2xx(o.Outcome) {
				if open != nil {
					open.ClosedAt, open.Closed = o.At, true
					out = append(out, *open)
					open = nil
				}
				continue
			}
			b := Breach{Round: o.Round, Phase: o.Phase, At: o.At, Cell: c.Name, Client: c.Client.Name, Request: c.Request.String(), Outcome: o.Outcome, Path: o.Path}
			if open == nil {
				open = &Window{Cell: c.Name, OpenedAt: o.At}
			}
			open.Served = append(open.Served, b)
		}
		if open != nil {
			out = append(out, *open)
		}
	}
	return out
}
