// Package service implements the fibergate.contactdetails.v1.ContactDetailsService gRPC handlers.
//
// Handlers receive requests that the protovalidate interceptor already checked against the
// rules in the contract, translate them to the upstream Fiber client's types, and translate
// answers and errors back. Every error leaving this package goes through ToStatus, the one
// place where domain errors become gRPC statuses with a google.rpc.ErrorInfo.
package service
