// Validates Kubernetes manifests offline: every document against the Kubernetes (and Prometheus
// Operator) schemas of kubernetes-models, unknown fields with the TypeScript compiler over the
// same models' interfaces (the schemas let extra properties through), then what tenantgate's
// deployment needs: probes, drain, grace period, selectors, secret modes, admin isolation.
//
//   node validate.mjs [--check-config TENANTGATE_BIN] NAME=FILE.yaml...
//
// A NAME is a set of manifests meant to be applied together (docker/k8s, one chart rendering).
// Exits 1 listing every problem found.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const problems = [];
const problem = (set, what) => problems.push(`${set}: ${what}`);

let tenantgateBin = "";
const sets = [];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === "--check-config") tenantgateBin = process.argv[++i];
  else {
    const eq = arg.indexOf("=");
    if (eq < 1) throw new Error(`usage: validate.mjs [--check-config BIN] NAME=FILE...`);
    sets.push({ name: arg.slice(0, eq), file: arg.slice(eq + 1) });
  }
}

/** The kubernetes-models module holding an apiVersion's classes. */
function modelModule(apiVersion) {
  if (apiVersion === "v1") return "kubernetes-models/v1";
  if (apiVersion.startsWith("monitoring.coreos.com/"))
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

// Kubernetes reads YAML 1.1 (defaultMode: 0400 is octal there, 400 in YAML 1.2).
function loadDocs(set) {
  const text = readFileSync(set.file, "utf8");
  const docs = [];
  for (const doc of parseAllDocuments(text, { version: "1.1" })) {
    if (doc.errors.length) problem(set.name, `YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined) docs.push(obj);
  }
  return docs;
}

async function schemaCheck(set, docs) {
  for (const [i, doc] of docs.entries()) {
    const where = `document ${i + 1} (${doc.kind} ${doc.metadata?.name})`;
    if (!doc.apiVersion || !doc.kind) {
      problem(set.name, `${where}: no apiVersion/kind`);
      continue;
    }
    let mod;
    try {
      mod = await import(modelModule(doc.apiVersion));
    } catch {
      problem(set.name, `${where}: no schema for apiVersion ${doc.apiVersion}`);
      continue;
    }
    const Model = mod[doc.kind];
    if (!Model) {
      problem(set.name, `${where}: no kind ${doc.kind} in ${doc.apiVersion}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      problem(set.name, `${where}: ${e.message}`);
    }
  }
}

// Excess-property checks of object literals: one typed constant per document, one tsc run.
function unknownFieldCheck(allSets) {
  const dir = mkdtempSync(join(here, ".typecheck-"));
  try {
    const lines = [];
    const where = [];
    let n = 0;
    for (const { set, docs } of allSets) {
      for (const [i, doc] of docs.entries()) {
        const type = `I${doc.kind}`;
        lines.push(`import type { ${type} as T${n} } from "${modelModule(doc.apiVersion)}";`);
        lines.push(`export const d${n}: T${n} = ${JSON.stringify(doc, null, 1)};`);
        where.push(`${set.name}: document ${i + 1} (${doc.kind} ${doc.metadata?.name})`);
        n++;
      }
    }
    writeFileSync(join(dir, "manifests.ts"), lines.join("\n") + "\n");
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext",
                         skipLibCheck: true, target: "es2022", types: [] },
      files: ["manifests.ts"],
    }));
    try {
      execFileSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", dir],
                   { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      const text = `${e.stdout}${e.stderr}`;
      const source = readFileSync(join(dir, "manifests.ts"), "utf8").split("\n");
      for (const line of text.split("\n").filter((l) => l.includes("error TS"))) {
        const m = line.match(/manifests\.ts\((\d+),\d+\): (.*)/);
        if (!m) { problems.push(`tsc: ${line}`); continue; }
        // Which constant the error line belongs to: the last "export const dN" above it.
        let doc = -1;
        for (let l = Number(m[1]) - 1; l >= 0 && doc < 0; l--) {
          const c = source[l].match(/^export const d(\d+)/);
          if (c) doc = Number(c[1]);
        }
        problems.push(`${doc >= 0 ? where[doc] : "?"}: ${m[2]}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) &&
  Object.keys(selector ?? {}).length > 0;

/** Seconds in a tenantgate duration (SPEC section 2). */
function seconds(d) {
  const m = String(d).match(/^(\d+)(ms|s|m|h)$/);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

function deploymentChecks(set, docs) {
  const deployments = byKind(docs, "Deployment");
  if (deployments.length !== 1) return problem(set.name, `expected one Deployment, found ${deployments.length}`);
  const dep = deployments[0];
  const ns = dep.metadata.namespace;
  const pod = dep.spec.template;
  const labels = pod.metadata.labels;
  const spec = pod.spec;
  const c = spec.containers.find((x) => x.name === "tenantgate");
  if (!c) return problem(set.name, "no container named tenantgate");
  const port = (name) => c.ports?.find((p) => p.name === name)?.containerPort;

  if (!(dep.spec.replicas >= 2)) problem(set.name, `replicas ${dep.spec.replicas}: want 2 or more`);
  if (!matches(dep.spec.selector.matchLabels, labels)) problem(set.name, "Deployment selector does not match its pod labels");
  const anti = spec.affinity?.podAntiAffinity;
  const terms = [...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
                 ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => t.podAffinityTerm)];
  if (!terms.some((t) => t.topologyKey === "kubernetes.io/hostname" && matches(t.labelSelector?.matchLabels, labels)))
    problem(set.name, "no pod anti-affinity over kubernetes.io/hostname selecting tenantgate's pods");

  const probe = (p, path) => p?.httpGet?.path === path && (p.httpGet.port === "admin" || p.httpGet.port === port("admin"));
  if (!probe(c.readinessProbe, "/readyz")) problem(set.name, "readinessProbe is not GET /readyz on the admin port");
  if (!probe(c.livenessProbe, "/healthz")) problem(set.name, "livenessProbe is not GET /healthz on the admin port");

  // The config the pods get, from the ConfigMap the config volume names.
  const configVolume = spec.volumes.find((v) => v.configMap);
  const cm = byKind(docs, "ConfigMap").find((m) => m.metadata.name === configVolume?.configMap.name && m.metadata.namespace === ns);
  if (!cm) return problem(set.name, `ConfigMap ${configVolume?.configMap?.name} (the config volume) is not in the set`);
  const configText = cm.data["tenantgate.yaml"];
  const config = parseAllDocuments(configText)[0].toJS();
  const mountOf = (volumeName) => c.volumeMounts.find((m) => m.name === volumeName)?.mountPath;
  if (!c.args.includes(`${mountOf(configVolume.name)}/tenantgate.yaml`))
    problem(set.name, `args ${JSON.stringify(c.args)} do not name the mounted config`);

  // Drain: preStop starts it and waits; the grace period covers the longest one.
  const hook = (c.lifecycle?.preStop?.exec?.command ?? []).join(" ");
  if (!/tenantgate ctl .*--token-file \S+ drain/.test(hook)) problem(set.name, `preStop does not run "tenantgate ctl --token-file F drain": ${hook}`);
  const tokenFile = config.admin?.token_file;
  if (!hook.includes(`--token-file ${tokenFile} `)) problem(set.name, `preStop's token file is not admin.token_file (${tokenFile})`);
  const wait = Number(hook.match(/^\s*sleep (\d+)$/m)?.[1] ?? NaN);
  if (!(wait > 0)) problem(set.name, "preStop does not first wait (sleep N) for the endpoint removal to propagate");
  const longestDrain = wait + seconds(config.timeouts?.upstream_response ?? "60s") + 5 + 5;
  if (!(spec.terminationGracePeriodSeconds > longestDrain))
    problem(set.name, `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} is not above the longest drain (${longestDrain} s)`);
  const adminPort = Number(String(config.admin?.address).split(":").pop());
  if (adminPort !== port("admin")) problem(set.name, `admin listener port ${adminPort} is not the container's admin port ${port("admin")}`);
  if (!String(config.admin?.address).startsWith("0.0.0.0:")) problem(set.name, "the admin listener must listen on the pod's address for probes and scrapes");
  const listenerPorts = (config.listeners ?? []).map((l) => Number(l.address.split(":").pop()));
  for (const p of listenerPorts) if (!c.ports.some((x) => x.containerPort === p)) problem(set.name, `listener port ${p} is not a container port`);

  // Hardening.
  const psc = spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  if (psc.runAsNonRoot !== true || !(psc.runAsUser > 0)) problem(set.name, "pod does not run as a non-root user");
  if (sc.readOnlyRootFilesystem !== true) problem(set.name, "root filesystem is not read-only");
  if (sc.allowPrivilegeEscalation !== false) problem(set.name, "privilege escalation is allowed");
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(set.name, "capabilities are not all dropped");
  if (spec.automountServiceAccountToken !== false) problem(set.name, "a service account token is mounted");

  // Secrets: certificates and token, mode 0400, at the paths the config names.
  const secretVolumes = spec.volumes.filter((v) => v.secret);
  for (const v of secretVolumes) if (v.secret.defaultMode !== 0o400) problem(set.name, `secret volume ${v.name}: defaultMode ${v.secret.defaultMode?.toString(8)}, want 0400`);
  const underSecret = (file) => secretVolumes.some((v) => file?.startsWith(`${mountOf(v.name)}/`));
  if (!underSecret(tokenFile)) problem(set.name, `admin.token_file ${tokenFile} is not in a secret volume`);
  for (const l of config.listeners ?? [])
    for (const cert of l.tls?.certificates ?? [])
      if (!underSecret(cert.cert) || !underSecret(cert.key)) problem(set.name, `listener ${l.name}: ${cert.cert} / ${cert.key} not in a secret volume`);
  const secrets = byKind(docs, "Secret");
  for (const v of secretVolumes) {
    const s = secrets.find((x) => x.metadata.name === v.secret.secretName);
    if (secrets.length && !s) problem(set.name, `secret ${v.secret.secretName} is neither in the set nor created by the README`);
  }
  const stateDir = mountOf(spec.volumes.find((v) => v.emptyDir)?.name);
  if (config.state?.state_file && !config.state.state_file.startsWith(`${stateDir}/`))
    problem(set.name, `state_file ${config.state.state_file} is not on the writable volume ${stateDir}`);

  // PodDisruptionBudget, Services, NetworkPolicy, ServiceMonitor select what they should.
  const pdb = byKind(docs, "PodDisruptionBudget")[0];
  if (!pdb || !matches(pdb.spec.selector.matchLabels, labels)) problem(set.name, "no PodDisruptionBudget selecting tenantgate's pods");
  else if (!(pdb.spec.maxUnavailable >= 1 || pdb.spec.minAvailable < dep.spec.replicas)) problem(set.name, "the PodDisruptionBudget allows no disruption: node drains would block");
  const services = byKind(docs, "Service");
  const tgServices = services.filter((s) => matches(s.spec.selector, labels));
  const adminService = tgServices.find((s) => s.spec.ports.every((p) => p.targetPort === "admin"));
  const dataService = tgServices.find((s) => s.spec.ports.every((p) => ["http", "https"].includes(p.targetPort)));
  if (!adminService) problem(set.name, "no Service for the admin port alone");
  if (!dataService) problem(set.name, "no Service for the data ports");
  for (const s of tgServices) for (const p of s.spec.ports) if (!c.ports.some((x) => x.name === p.targetPort)) problem(set.name, `Service ${s.metadata.name}: targetPort ${p.targetPort} is not a container port`);

  const pools = Object.entries(config.pools ?? {});
  for (const [name, pool] of pools) {
    for (const ep of [...(pool.web ?? []), ...(pool.longpolling ?? [])]) {
      const [host, p] = ep.split(":");
      const [svc, svcNs] = host.split(".");
      const s = services.find((x) => x.metadata.name === svc && x.metadata.namespace === svcNs);
      if (!s) problem(set.name, `pool ${name}: ${ep} names no Service of the set`);
      else {
        if (s.spec.clusterIP !== "None") problem(set.name, `pool ${name}: Service ${svc} is not headless`);
        if (!s.spec.ports.some((x) => x.port === Number(p))) problem(set.name, `pool ${name}: Service ${svc} has no port ${p}`);
      }
    }
  }

  const netpols = byKind(docs, "NetworkPolicy").filter((n) => matches(n.spec.podSelector.matchLabels, labels));
  if (netpols.length === 0) {
    problem(set.name, "no NetworkPolicy for tenantgate's pods");
  } else {
    for (const np of netpols) {
      if (!(np.spec.policyTypes ?? []).includes("Ingress")) problem(set.name, `${np.metadata.name}: not an Ingress policy`);
      for (const rule of np.spec.ingress ?? []) {
        const admin = (rule.ports ?? []).some((p) => p.port === port("admin") || p.port === "admin");
        const portless = !rule.ports;
        if ((admin || portless) && !rule.from) problem(set.name, `${np.metadata.name}: the admin port is open to any source`);
        for (const peer of (admin || portless) ? rule.from ?? [] : [])
          if (peer.ipBlock) problem(set.name, `${np.metadata.name}: the admin port is open to an ipBlock (${peer.ipBlock.cidr})`);
      }
    }
  }

  for (const sm of byKind(docs, "ServiceMonitor")) {
    const ep = sm.spec.endpoints?.[0];
    if (!adminService || !matches(sm.spec.selector.matchLabels, adminService.metadata.labels)) problem(set.name, `ServiceMonitor ${sm.metadata.name} does not select the admin Service`);
    else if (!adminService.spec.ports.some((p) => p.name === ep?.port)) problem(set.name, `ServiceMonitor port ${ep?.port} is not a port of the admin Service`);
    if (ep?.path !== "/metrics") problem(set.name, `ServiceMonitor path ${ep?.path}, want /metrics`);
  }

  if (tenantgateBin) checkConfig(set, configText, tokenFile, config);
}

// `tenantgate check` on the ConfigMap's config, with throwaway certificate files and token at
// its paths (moved under a temporary root).
function checkConfig(set, configText, tokenFile, config) {
  const root = mkdtempSync(join(tmpdir(), "tg-config-"));
  try {
    const text = configText.replaceAll("/etc/tenantgate/", `${root}/etc/tenantgate/`)
                         .replaceAll("/var/lib/tenantgate/", `${root}/var/lib/tenantgate/`);
    const place = (file) => {
      const path = `${root}${file}`;
      mkdirSync(dirname(path), { recursive: true });
      return path;
    };
    writeFileSync(place(tokenFile), "ci-token\n", { mode: 0o400 });
    for (const l of config.listeners ?? [])
      for (const cert of l.tls?.certificates ?? []) {
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                 "-subj", "/CN=tenantgate.test", "-days", "30",
                                 "-keyout", place(cert.key), "-out", place(cert.cert)], { stdio: "pipe" });
      }
    mkdirSync(`${root}/var/lib/tenantgate`, { recursive: true });
    writeFileSync(join(root, "tenantgate.yaml"), text);
    try {
      const out = execFileSync(tenantgateBin, ["check", "--config", join(root, "tenantgate.yaml")], { encoding: "utf8", stdio: "pipe" });
      console.log(`${set.name}: tenantgate check: ${out.trim().split("\n").pop()}`);
    } catch (e) {
      problem(set.name, `tenantgate check refuses the ConfigMap's config:\n${e.stdout}${e.stderr}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const loaded = sets.map((set) => ({ set, docs: loadDocs(set) }));
for (const { set, docs } of loaded) {
  await schemaCheck(set, docs);
  deploymentChecks(set, docs);
  const kinds = {};
  for (const d of docs) kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
  console.log(`${set.name}: ${docs.length} objects (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")})`);
}
unknownFieldCheck(loaded);

if (problems.length) {
  console.error(`${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`manifests valid: ${loaded.reduce((n, l) => n + l.docs.length, 0)} objects in ${loaded.length} sets`);
