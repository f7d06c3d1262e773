// A local S3 endpoint for the backup tests: rclone's gofakes3 (the S3 server
// inside `rclone serve s3`) with its in-memory backend, on the address given.
// It speaks the S3 REST API the AWS SDK uses and checks every request's
// AWS Signature V4 against the one key pair it is given, so a client with a
// wrong access or secret key is refused as a real bucket would refuse it.
// Nothing it stores outlives the process.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	accessKey := flag.String("access-key", "", "the access key accepted")
	secretKey := flag.String("secret-key", "", "its secret key")
	flag.Parse()
	if *accessKey == "" || *secretKey == "" {
		log.Fatal("give -access-key and -secret-key")
	}
	faker := gofakes3.New(
		s3mem.New(),
		gofakes3.WithAutoBucket(false),
		gofakes3.WithV4Auth(map[string]string{*accessKey: *secretKey}),
	)
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The tests read the port from this line.
	log.Printf("listening on %s", listener.Addr())
	log.Fatal(http.Serve(listener, faker.Server()))
}
