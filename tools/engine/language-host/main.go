// pulumi-language-nodejs for this project's engine.
//
// The Pulumi CLI talks to a Node.js program through a "language host": a
// small gRPC server that starts node with the SDK's entry points
// (@pulumi/pulumi/cmd/run for the program, cmd/run-policy-pack for a policy
// pack, cmd/run-plugin for a provider written in Node.js). Pulumi's own host
// is a separate Go module that the module proxy our machines use does not
// serve, so the engine is built with this one instead (tools/engine/README.md).
// It implements only what `preview`, `up`, `refresh`, `destroy` and policy
// packs use; every other call answers Unimplemented, which the CLI handles.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/google/shlex"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set at build time to the engine's version.
var version = "dev"

// Exit code with which the SDK says it has already shown the user an actionable message.
const exitAfterUserMessage = 32

func main() {
	// The CLI may pass logging flags (already registered by the SDK's logging
	// package) and a tracing endpoint before the engine address.
	tracing := flag.String("tracing", "", "tracing endpoint, passed on to node")
	flag.Parse()
	engineAddress := ""
	if flag.NArg() > 0 {
		engineAddress = flag.Arg(flag.NArg() - 1)
	}

	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engineAddress, tracing: *tracing})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "language host: could not start its gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The CLI reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host: %v\n", err)
		os.Exit(1)
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	mu            sync.Mutex
	engineAddress string
	tracing       string
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// The program's providers are dynamic providers served by the bundled
// pulumi-nodejs plugin, so nothing has to be installed ahead of the run;
// a package the program registers later is still resolved by the engine.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Dependencies are the project's own business (npm ci); the engine asks only
// so that it can offer to install them.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimPrefix(strings.TrimSpace(string(out)), "v")}, nil
}

// runtimeOptions are the `runtime.options` of Pulumi.yaml or PulumiPolicy.yaml.
type runtimeOptions struct {
	nodeArgs   []string
	typescript bool
	tsconfig   string
}

func readOptions(info *pulumirpc.ProgramInfo) (runtimeOptions, error) {
	// As with Pulumi's own host, a project that says nothing is TypeScript
	// compiled by the SDK; this project's Pulumi.yaml turns that off (tsx).
	opts := runtimeOptions{typescript: true}
	if info == nil || info.GetOptions() == nil {
		return opts, nil
	}
	fields := info.GetOptions().GetFields()
	if v, ok := fields["nodeargs"]; ok {
		args, err := shlex.Split(v.GetStringValue())
		if err != nil {
			return opts, fmt.Errorf("runtime option nodeargs %q: %w", v.GetStringValue(), err)
		}
		opts.nodeArgs = args
	}
	if v, ok := fields["typescript"]; ok {
		opts.typescript = boolOption(v)
	}
	if v, ok := fields["tsconfig"]; ok {
		opts.tsconfig = v.GetStringValue()
	}
	return opts, nil
}

func boolOption(v *structpb.Value) bool {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		b, _ := strconv.ParseBool(s.StringValue)
		return b
	}
	return v.GetBoolValue()
}

func (o runtimeOptions) env() []string {
	env := []string{}
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// resolveEntry finds one of the SDK's entry points as node would from dir, so
// the SDK the program itself depends on runs it.
func resolveEntry(dir, module string) (string, error) {
	out, err := exec.Command("node", "-p", fmt.Sprintf("require.resolve(%q, { paths: [%q] })", module, dir)).Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s: run npm ci in the project first", module, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	opts, err := readOptions(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	dir := req.GetPwd()
	if dir == "" && req.GetInfo() != nil {
		dir = req.GetInfo().GetProgramDirectory()
	}
	runScript, err := resolveEntry(dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	// The SDK reads an object: never "null", even with no config at all.
	configMap := map[string]string{}
	for k, v := range req.GetConfig() {
		configMap[k] = v
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()
	args := append([]string{}, opts.nodeArgs...)
	args = append(args, runScript)
	flagIf := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagIf("monitor", req.GetMonitorAddress())
	flagIf("engine", engine)
	flagIf("organization", req.GetOrganization())
	flagIf("project", req.GetProject())
	flagIf("stack", req.GetStack())
	flagIf("pwd", dir)
	if req.GetInfo() != nil {
		flagIf("root-directory", req.GetInfo().GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagIf("parallel", strconv.Itoa(int(req.GetParallel())))
	flagIf("tracing", h.tracing)
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), opts.env()...)
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	dieWithParent(cmd)
	// The CLI shows the language host's output as the program's.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the program exited with code %d", exit.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
}

// RunPlugin starts a policy pack (kind "analyzer") or a provider written in
// Node.js (kind "resource") and streams its output back; the CLI reads the
// plugin's gRPC port from the first line of its stdout.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	info := req.GetInfo()
	opts, err := readOptions(info)
	if err != nil {
		return err
	}
	dir := req.GetPwd()
	program := req.GetProgram()
	if info != nil {
		dir = info.GetProgramDirectory()
		program = info.GetEntryPoint()
	}
	if program == "" {
		program = "."
	}
	var entry string
	switch req.GetKind() {
	case "analyzer":
		entry = "@pulumi/pulumi/cmd/run-policy-pack"
	case "resource", "":
		entry = "@pulumi/pulumi/cmd/run-plugin"
	default:
		return fmt.Errorf("plugins of kind %q are not supported by this language host", req.GetKind())
	}
	script, err := resolveEntry(dir, entry)
	if err != nil {
		return err
	}
	args := append([]string{}, opts.nodeArgs...)
	args = append(args, script)
	if req.GetKind() == "analyzer" {
		// run-policy-pack takes the engine address first, then the pack.
		args = append(args, req.GetArgs()...)
		args = append(args, program)
	} else {
		args = append(args, program)
		args = append(args, req.GetArgs()...)
	}

	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, req.GetEnv()...), opts.env()...)
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start node: %w", err)
	}
	var send sync.Mutex
	var wg sync.WaitGroup
	forward := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		defer wg.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				send.Lock()
				_ = server.Send(wrap(append([]byte{}, buf[:n]...)))
				send.Unlock()
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go forward(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go forward(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	wg.Wait()
	code := int32(0)
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = int32(exit.ExitCode())
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}
