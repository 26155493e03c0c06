// Checks docker/compose.yaml against what its services need: bind-mounted files exist,
// Prometheus scrapes every tenantgate replica on its admin port, tenantgate's config names the
// compose services it uses, Grafana gets the dashboard with a datasource it can resolve.
//   node validate-compose.mjs [--check-config TENANTGATE_BIN]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const docker = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = process.argv[2] === "--check-config" ? process.argv[3] : "";
const problems = [];
const compose = parse(readFileSync(join(docker, "compose.yaml"), "utf8"), { merge: true });
const services = compose.services ?? {};

const replicas = Object.keys(services).filter((n) => /^tenantgate-/.test(n));
if (replicas.length < 2) problems.push(`want two tenantgate replicas, found ${replicas.join(", ")}`);
for (const want of ["redis", "prometheus", "grafana"])
  if (!services[want]) problems.push(`no ${want} service`);
const namedVolumes = new Set(Object.keys(compose.volumes ?? {}));

for (const [name, svc] of Object.entries(services)) {
  for (const dep of svc.depends_on ?? []) if (!services[dep]) problems.push(`${name}: depends on unknown ${dep}`);
  for (const v of svc.volumes ?? []) {
    const source = v.split(":")[0];
    if (source.startsWith(".") || source.startsWith("/")) {
      if (!existsSync(resolve(docker, source))) problems.push(`${name}: bind source ${source} does not exist`);
    } else if (!namedVolumes.has(source)) problems.push(`${name}: volume ${source} is not declared`);
  }
}

const mountSource = (svc, target) =>
  (svc.volumes ?? []).map((v) => v.split(":")).find(([, t]) => t === target)?.[0];
const configFile = mountSource(services["tenantgate-a"] ?? {}, "/etc/tenantgate/config/tenantgate.yaml");
const config = configFile ? parse(readFileSync(resolve(docker, configFile), "utf8")) : {};
const adminPort = String(config.admin?.address ?? "").split(":").pop();
for (const r of replicas) {
  const svc = services[r];
  if (svc.read_only !== true) problems.push(`${r}: root filesystem not read-only`);
  if (!mountSource(svc, "/var/lib/tenantgate")) problems.push(`${r}: no writable /var/lib/tenantgate`);
  if (mountSource(svc, "/etc/tenantgate/config/tenantgate.yaml") !== configFile) problems.push(`${r}: another config than tenantgate-a`);
  if (!(svc.volumes ?? []).some((v) => v.endsWith(`:${dirname(config.admin?.token_file ?? "/x")}:ro`)))
    problems.push(`${r}: admin.token_file ${config.admin?.token_file} is not on a read-only mount`);
}
for (const [pool, p] of Object.entries(config.pools ?? {}))
  for (const ep of [...(p.web ?? []), ...(p.longpolling ?? [])])
    if (!services[ep.split(":")[0]]) problems.push(`pool ${pool}: ${ep} is no compose service`);
const redisHost = String(config.state?.redis ?? "").match(/^redis:\/\/([^:/]+)/)?.[1];
if (redisHost && !services[redisHost]) problems.push(`state.redis names ${redisHost}, no such service`);

const prom = parse(readFileSync(resolve(docker, mountSource(services.prometheus, "/etc/prometheus/prometheus.yml")), "utf8"));
const targets = prom.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
for (const r of replicas) if (!targets.includes(`${r}:${adminPort}`)) problems.push(`Prometheus does not scrape ${r}:${adminPort}`);

const dashboard = JSON.parse(readFileSync(resolve(docker, mountSource(services.grafana, "/var/lib/grafana/dashboards/tenantgate.json")), "utf8"));
const vars = new Set(dashboard.templating.list.map((v) => v.name));
const uids = new Set(JSON.stringify(dashboard).match(/"uid":"\$\{[A-Z_]+\}"/g) ?? []);
for (const u of uids) {
  const name = u.match(/\$\{([A-Z_]+)\}/)[1];
  if (!vars.has(name)) problems.push(`dashboard datasource ${name} is an import input only: a provisioned dashboard cannot resolve it`);
}
const provisioning = readFileSync(resolve(docker, mountSource(services.grafana, "/etc/grafana/provisioning/dashboards"), "tenantgate.yaml"), "utf8");
if (!provisioning.includes("path: /var/lib/grafana/dashboards")) problems.push("Grafana's dashboard provider does not read /var/lib/grafana/dashboards");

if (bin && configFile) {
  // The config as the containers get it, with the token at its path under a temporary root.
  const root = mkdtempSync(join(tmpdir(), "tg-compose-"));
  try {
    const text = readFileSync(resolve(docker, configFile), "utf8").replaceAll("/etc/tenantgate/", `${root}/`).replaceAll("/var/lib/tenantgate/", `${root}/`);
    execFileSync("mkdir", ["-p", dirname(`${root}/${config.admin.token_file.replace("/etc/tenantgate/", "")}`)]);
    writeFileSync(`${root}/${config.admin.token_file.replace("/etc/tenantgate/", "")}`, "ci-token\n", { mode: 0o400 });
    writeFileSync(join(root, "tenantgate.yaml"), text);
    const out = execFileSync(bin, ["check", "--config", join(root, "tenantgate.yaml")], { encoding: "utf8", stdio: "pipe" });
    console.log(`compose: tenantgate check: ${out.trim()}`);
  } catch (e) {
    problems.push(`tenantgate check refuses ${configFile}: ${e.stdout ?? ""}${e.stderr ?? e.message}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (problems.length) {
  console.error(`compose: ${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`compose valid: ${Object.keys(services).length} services (${replicas.length} tenantgate replicas scraped by Prometheus)`);
