package otlp

import (
	"encoding/json"
	"io"
	"net/http"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"
)

// gRPC status codes used in google.rpc.Status bodies.
const (
	codeInvalidArgument   = 3
	codeResourceExhausted = 8
	codeInternal          = 13
	codeUnavailable       = 14
)

// grpcCode maps an HTTP status to the gRPC code put in a Status body.
func grpcCode(status int) int32 {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codeInvalidArgument
	case http.StatusTooManyRequests:
		return codeResourceExhausted
	case http.StatusServiceUnavailable:
		return codeUnavailable
	}
	return codeInternal
}

// writeStatus answers a failure with a google.rpc.Status body in the
// request's encoding, as OTLP/HTTP requires for 4xx and 5xx responses.
func writeStatus(w http.ResponseWriter, enc encoding, status int, msg string) {
	code := grpcCode(status)
	var body []byte
	if enc == encJSON {
		body, _ = json.Marshal(struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{code, msg}) // cannot fail: a struct of an int and a string
	} else {
		body = appendStatusProto(nil, code, msg)
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendStatusProto encodes google.rpc.Status{code: 1, message: 2}.
func appendStatusProto(b []byte, code int32, msg string) []byte {
	if code != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(code))
	}
	if msg != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, msg)
	}
	return b
}

// writeText answers a failure whose encoding is unknown (405, 415 for the
// content type) in plain text, as the OpenTelemetry Collector does.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// emptyJSON is the JSON ExportTraceServiceResponse of a full success.
const emptyJSON = "{}"

// writeExportResponse answers 200 with an ExportTraceServiceResponse, its
// partial_success set when spans were rejected.
func writeExportResponse(w http.ResponseWriter, enc encoding, rej rejects) {
	w.Header().Set("Content-Type", enc.contentType())
	if rej.total() == 0 {
		w.WriteHeader(http.StatusOK)
		if enc == encJSON {
			_, _ = io.WriteString(w, emptyJSON)
		}
		return
	}
	resp := ptraceotlp.NewExportResponse()
	ps := resp.PartialSuccess()
	ps.SetRejectedSpans(int64(rej.total()))
	ps.SetErrorMessage(rej.message())
	var (
		body []byte
		err  error
	)
	if enc == encJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil { // not expected: the response is two plain fields
		writeStatus(w, enc, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
