#!/bin/sh
# A zero-time engine for the throughput and watcher benchmarks: answers the runner's five commands at
# once with canned, valid output, so Airlock's own cost is what gets measured (the node double's start-up,
# ~80 ms a process, would dominate). ZERO_ENGINE_LOG: a file or FIFO to append "<command> <cwd>" to per
# call; in a sandbox, the benchmark's FIFO (bench-support.ts engineLogFifo). A call it cannot record fails,
# so a log the sandbox hides shows up as failed plans, never as a silent count of zero.
if [ -n "$ZERO_ENGINE_LOG" ]; then
  printf '%s %s\n' "$1" "$PWD" >> "$ZERO_ENGINE_LOG" || { printf 'zero-engine: cannot record this call in %s\n' "$ZERO_ENGINE_LOG" >&2; exit 1; }
fi
case "$1" in
  version)
    printf '%s\n' '{"terraform_version":"1.11.4-zero","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
  init)
    printf 'Terraform has been successfully initialized!\n' ;;
  plan)
    for arg in "$@"; do
      case "$arg" in -out=*) printf 'zero-engine plan for %s\n' "$PWD" > "${arg#-out=}" ;; esac
    done
    printf 'Plan: 1 to add, 0 to change, 0 to destroy.\n'
    exit 2 ;;
  show)
    printf '%s\n' '{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{"root_module":{"resources":[{"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","provider_name":"terraform.io/builtin/terraform","schema_version":0,"values":{"input":"zero"},"sensitive_values":{}}]}},"resource_changes":[{"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","provider_name":"terraform.io/builtin/terraform","change":{"actions":["create"],"before":null,"after":{"input":"zero"},"after_unknown":{"id":true,"output":true},"before_sensitive":false,"after_sensitive":{}}}],"configuration":{"root_module":{"resources":[{"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","provider_config_key":"terraform","expressions":{"input":{"constant_value":"zero"}},"schema_version":0}]}},"timestamp":"2026-01-01T00:00:00Z","applyable":true,"complete":true,"errored":false}' ;;
  apply)
    printf 'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\n' ;;
  *)
    printf 'zero-engine: unsupported command %s\n' "$1" >&2
    exit 1 ;;
esac
