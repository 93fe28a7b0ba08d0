# Drives the fish completion script in real fish: loads it the way
# vendor_completions.d would (source) and asks fish itself what it would offer
# with `complete -C LINE`, which runs the registered completion like a TAB.
#   fish --no-config fish_test.fish PATH/TO/gpuorch
set -l binary (realpath $argv[1])
set -l tmp (mktemp -d)
mkdir -p $tmp/bin $tmp/files/manifests
ln -s $binary $tmp/bin/gpuorch
touch $tmp/files/kube.yaml $tmp/files/other.conf
set -gx PATH $tmp/bin $PATH

gpuorch completion fish | source

set -g failures 0

# expect LINE [CANDIDATE...]: `complete -C LINE` prints exactly these lines
# ("value<TAB>description" where there is a description).
function expect
    set -l line $argv[1]
    set -l want $argv[2..-1]
    set -l got (string join ' | ' -- (complete -C "$line"))
    set -l expected (string join ' | ' -- $want)
    if test "$got" != "$expected"
        echo "FAIL: '$line'"
        echo "  expected: $expected"
        echo "  got:      $got"
        set -g failures (math $failures + 1)
    else
        echo "ok: '$line' -> $got"
    end
end

set -l tab \t
expect "gpuorch " "completion$tab"'Print the shell completion script for bash, zsh or fish' "crd$tab"'Print the GPUWorkload CustomResourceDefinition' "delete$tab"'Delete GPUWorkloads (their Jobs go too once the finalizer runs)' "describe$tab"'Show a GPUWorkload in detail: status, Jobs, pods, Events, and why it is pending or where it went' "get$tab"'List GPUWorkloads, or show the named ones' "install$tab"'Install the GPUWorkload CRD and the reconciler (CronJob or Deployment) into the cluster' "reconcile$tab"'Run one controller pass over the GPUWorkloads, then exit' "sandbox$tab"'Run a local Kubernetes API server with simulated GPU nodes' "simulate$tab"'Place workloads offline on a node snapshot, a synthetic cluster or a real trace; compare strategies' "submit$tab"'Create GPUWorkloads from flags or manifests, and optionally wait for them' "uninstall$tab"'Remove the reconciler, its RBAC, the CRD and the gpuorch-system namespace from the cluster' "validate$tab"'Check GPUWorkload manifests offline against the CRD\'s schema' "version$tab"'Print the gpuorch version'
expect "gpuorch ver" "version$tab"'Print the gpuorch version'
expect "gpuorch submit --strategy B" BestFit
expect "gpuorch delete --ign" "--ignore-not-found$tab"'Treat a GPUWorkload that does not exist as deleted'
expect "gpuorch delete --dry-run=s" --dry-run=server
expect "gpuorch reconcile --watch --healthz" "--healthz-stall-timeout$tab"'With --watch: /healthz fails when the loop\'s ticker or every worker has been stuck this long (ready work untouched)'
expect "gpuorch completion " bash fish zsh
expect "gpuorch completion z" zsh
expect "gpuorch version --out" "--output$tab"'Output format'
expect "gpuorch version -o " json yaml
expect "gpuorch version --output=y" --output=yaml
expect "gpuorch --log-format " json text
expect "gpuorch --context "

# FILE-typed flags complete file names.
cd $tmp/files
expect "gpuorch --kubeconfig " kube.yaml manifests/ other.conf
expect "gpuorch --kubeconfig k" kube.yaml
expect "gpuorch version --client-key " kube.yaml manifests/ other.conf
cd /
rm -rf $tmp

if test $failures -gt 0
    echo "$failures fish completion check(s) failed"
    exit 1
end
echo "fish completion: all checks passed"
