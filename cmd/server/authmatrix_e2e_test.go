package main

// The machinery of TestAuthMatrix: its callers, its rows (every RPC over gRPC and its REST
// route) and the check of one cell.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/auth"
)

// matrixCaller is a column of the auth matrix.
type matrixCaller struct {
	name  string
	authz string // the authorization header; "" for none
}

// The callers that must be refused before anything happens: no token and every kind of
// wrong one.
var unauthenticatedCallers = []matrixCaller{
	{"no token", ""},
	{"unknown token", "Bearer tok-nobody-0000000000000000"},
	{"alice's token plus a byte", "Bearer " + aliceToken + "x"},
	{"alice's token without the scheme", aliceToken},
	{"alice's token as Basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+aliceToken))},
	{"alice's token hash", "Bearer " + auth.HashToken(aliceToken)},
	{"empty bearer", "Bearer "},
}

// cellWant is what one cell of the matrix expects: an error with code, reason and HTTP status,
// or (code OK) a success that verify checks. verify gets the answer as JSON: the response
// message, or for WatchTask one {"result": message} line per message.
type cellWant struct {
	code   codes.Code
	reason string
	http   int
	verify func(t *testing.T, out []byte)
}

func cellErr(code codes.Code, reason string, httpStatus int) cellWant {
	return cellWant{code: code, reason: reason, http: httpStatus}
}

func cellOK(verify func(t *testing.T, out []byte)) cellWant {
	return cellWant{code: codes.OK, http: http.StatusOK, verify: verify}
}

var (
	cellUnauthenticated = cellErr(codes.Unauthenticated, "UNAUTHENTICATED", http.StatusUnauthorized)
	cellTaskNotFound    = cellErr(codes.NotFound, "TASK_NOT_FOUND", http.StatusNotFound)
)

// matrixRPC is a row of the auth matrix: one RPC over gRPC and its REST route.
type matrixRPC struct {
	name string
	// grpc calls the RPC for task id and returns the answer as JSON (see want.verify).
	grpc func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error)
	// method, path and body are the REST route for task id.
	method string
	path   func(id string) string
	body   string
}

func protoJSON(m proto.Message, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return protojson.Marshal(m)
}

const matrixStartBody = `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/auth-matrix"}}]}`

var matrixRPCs = map[string]matrixRPC{
	"StartBatch": {
		name: "StartBatch",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, _ string) ([]byte, error) {
			return protoJSON(c.StartBatch(ctx, withURL("https://www.linkedin.com/in/auth-matrix")))
		},
		method: http.MethodPost, path: func(string) string { return "/v1/contact-details/batch/start" }, body: matrixStartBody,
	},
	"GetTask": {
		name: "GetTask",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error) {
			return protoJSON(c.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: id}))
		},
		method: http.MethodGet, path: func(id string) string { return "/v1/contact-details/batch/" + id },
	},
	"ListTasks": {
		name: "ListTasks",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, _ string) ([]byte, error) {
			return protoJSON(c.ListTasks(ctx, &cdv1.ListTasksRequest{PageSize: 100}))
		},
		method: http.MethodGet, path: func(string) string { return "/v1/contact-details/batch?pageSize=100" },
	},
	"ListTaskResults": {
		name: "ListTaskResults",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error) {
			return protoJSON(c.ListTaskResults(ctx, &cdv1.ListTaskResultsRequest{TaskId: id}))
		},
		method: http.MethodGet, path: func(id string) string { return "/v1/contact-details/batch/" + id + "/results" },
	},
	"WatchTask": {
		name: "WatchTask",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error) {
			msgs, err := watchGRPC(ctx, c, &cdv1.WatchTaskRequest{TaskId: id})
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			for _, m := range msgs {
				j, err := protojson.Marshal(m)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(&b, "{\"result\":%s}\n", j)
			}
			return b.Bytes(), nil
		},
		method: http.MethodGet, path: func(id string) string { return "/v1/contact-details/batch/" + id + ":watch" },
	},
	"DeleteTask": {
		name: "DeleteTask",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error) {
			return protoJSON(c.DeleteTask(ctx, &cdv1.DeleteTaskRequest{TaskId: id}))
		},
		method: http.MethodDelete, path: func(id string) string { return "/v1/contact-details/batch/" + id },
	},
	"CancelTask": {
		name: "CancelTask",
		grpc: func(ctx context.Context, c cdv1.ContactDetailsServiceClient, id string) ([]byte, error) {
			return protoJSON(c.CancelTask(ctx, &cdv1.CancelTaskRequest{TaskId: id}))
		},
		method: http.MethodPost, path: func(id string) string { return "/v1/contact-details/batch/" + id + ":cancel" }, body: "{}",
	},
}

// callMatrix calls rpc for task id as authz over transport ("grpc" or "rest") and checks the
// answer against w. It returns the status of an error answer (nil on success).
func callMatrix(t *testing.T, p *proc, client cdv1.ContactDetailsServiceClient, transport string, rpc matrixRPC, id, authz string, w cellWant) *status.Status {
	t.Helper()
	what := fmt.Sprintf("%s %s", transport, rpc.name)
	var out []byte
	var st *status.Status
	if transport == "grpc" {
		ctx, cancel := context.WithTimeout(withAuthorization(context.Background(), authz), 30*time.Second)
		defer cancel()
		var err error
		out, err = rpc.grpc(ctx, client, id)
		st = status.Convert(err)
	} else {
		var body []byte
		if rpc.body != "" {
			body = []byte(rpc.body)
		}
		code, _, b := p.rest(t, rpc.method, rpc.path(id), body, authHeader(authz))
		if code != w.http {
			t.Errorf("%s: HTTP %d, want %d: %.300s", what, code, w.http, b)
		}
		if code == http.StatusOK {
			out, st = b, status.New(codes.OK, "")
		} else {
			st = restStatus(t, b)
		}
	}
	if st.Code() != w.code {
		t.Errorf("%s: code %v (%q), want %v", what, st.Code(), st.Message(), w.code)
		return st
	}
	if w.code != codes.OK {
		if ei := errorInfo(st); ei.GetReason() != w.reason || ei.GetDomain() != "fibergate" {
			t.Errorf("%s: ErrorInfo %v, want reason %s in domain fibergate", what, ei, w.reason)
		}
		return st
	}
	if w.verify != nil {
		w.verify(t, out)
	}
	return nil
}

// taskIDsOf returns the task ids of a ListTasks answer.
func taskIDsOf(t *testing.T, out []byte) []string {
	t.Helper()
	var resp struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("ListTasks answer %s: %v", out, err)
	}
	ids := []string{}
	for _, task := range resp.Tasks {
		ids = append(ids, task.TaskID)
	}
	return ids
}

// lastWatchState returns the state of the last {"result": …} line of a watch.
func lastWatchState(t *testing.T, out []byte) string {
	t.Helper()
	state := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var line struct {
			Result *struct {
				State string `json:"state"`
			} `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Result == nil {
			t.Fatalf("watch line %s is not a result: %v", sc.Bytes(), err)
		}
		state = line.Result.State
	}
	return state
}

// authedClient is a ContactDetailsServiceClient that sends one authorization header.
type authedClient struct {
	cdv1.ContactDetailsServiceClient
	authz string
}

func (c *authedClient) StartBatch(ctx context.Context, req *cdv1.StartBatchRequest, opts ...grpc.CallOption) (*cdv1.StartBatchResponse, error) {
	return c.ContactDetailsServiceClient.StartBatch(withAuthorization(ctx, c.authz), req, opts...)
}
