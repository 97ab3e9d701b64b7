package fiberfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// AdminHandler returns the simulator's control API, meant for the standalone
// binary and for tests that drive it over HTTP. It is not part of Fiber's API
// and must not be exposed where a real client could reach it. Routes:
//
//	GET    /_sim/faults   list queued faults: {"faults": [Fault...]}
//	POST   /_sim/faults   queue one Fault or an array of them (JSON as Fault.MarshalJSON)
//	DELETE /_sim/faults   clear every fault
//	GET    /_sim/stats    Stats as JSON
//	GET    /_sim/polls    every task's poll log: {"tasks": [TaskPolls...]}, in start order
//	POST   /_sim/credits  {"apiKey": "...", "credits": 5} sets a balance
//
// A fault looks like {"endpoint": "start", "kind": "status", "status": 503,
// "retryAfter": "2s", "delay": "100ms", "count": 1}. Errors answer 400 with
// {"message"}. The handler is safe for concurrent use.
func (s *Sim) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.writeFaults(w)
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			errorReply(http.StatusBadRequest, "could not read the body").write(w)
			return
		}
		var faults []Fault
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			err = json.Unmarshal(body, &faults)
		} else {
			var f Fault
			err = json.Unmarshal(body, &f)
			faults = []Fault{f}
		}
		if err != nil {
			errorReply(http.StatusBadRequest, "invalid fault: "+err.Error()).write(w)
			return
		}
		for _, f := range faults {
			if err := f.validate(); err != nil {
				errorReply(http.StatusBadRequest, "invalid fault: "+err.Error()).write(w)
				return
			}
		}
		for _, f := range faults {
			_ = s.InjectFault(f) // validated above
		}
		s.writeFaults(w)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		s.writeFaults(w)
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		jsonReply(http.StatusOK, s.Stats()).write(w)
	})
	mux.HandleFunc("GET /_sim/polls", func(w http.ResponseWriter, _ *http.Request) {
		jsonReply(http.StatusOK, map[string][]TaskPolls{"tasks": s.PollLog()}).write(w)
	})
	mux.HandleFunc("POST /_sim/credits", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			APIKey  string   `json:"apiKey"`
			Credits *float64 `json:"credits"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.APIKey == "" || req.Credits == nil {
			errorReply(http.StatusBadRequest, `want {"apiKey": "...", "credits": N}`).write(w)
			return
		}
		s.SetCredits(req.APIKey, *req.Credits)
		jsonReply(http.StatusOK, map[string]float64{"credits": *req.Credits}).write(w)
	})
	return mux
}

// writeFaults answers the queued faults.
func (s *Sim) writeFaults(w http.ResponseWriter) {
	jsonReply(http.StatusOK, map[string][]Fault{"faults": s.Faults()}).write(w)
}
