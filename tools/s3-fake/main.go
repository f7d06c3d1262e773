// A local S3 endpoint for the backup tests: gofakes3 (the S3 server rclone's
// `serve s3` is built on) with its in-memory backend, on the address given.
// It speaks the S3 REST API the AWS SDK uses; gofakes3 does not check
// signatures, so this refuses a request that is not signed with the access
// key given (a client using the wrong keys fails as it would on Vultr).
// Nothing it stores outlives the process.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	accessKey := flag.String("access-key", "", "the only access key accepted")
	flag.Parse()
	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(false))
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The tests read the port from this line.
	log.Printf("listening on %s", listener.Addr())
	s3 := faker.Server()
	log.Fatal(http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *accessKey != "" && !strings.Contains(r.Header.Get("Authorization"), "Credential="+*accessKey+"/") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The access key given is not the one this server accepts.</Message></Error>`))
			return
		}
		s3.ServeHTTP(w, r)
	})))
}
