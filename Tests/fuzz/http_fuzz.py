#!/usr/bin/env python3
"""Fuzzes every request body the API reads, through the real server: no input may get a 5xx or stop it.

Starts the built server with --demo on its embedded PostgreSQL (loopback, free port), then for --seconds sends
mutated bodies — seeded from valid examples and the bad-input corpus, mutated byte by byte and structurally
(U+0000, duplicate keys, huge and negative numbers, deep nesting, combining marks, odd encodings, CSV quotes and
NULs) — to every operation that takes a body, as the role allowed to call it. Prints the figures; exits 1 on any
5xx, a dropped connection or a dead server.

    python3 Tests/fuzz/http_fuzz.py --seconds 600     # the documented run (Docs/reliability.md)
    python3 Tests/fuzz/http_fuzz.py --seconds 20      # what `swift test` runs

Standard library only.
"""
import argparse, base64, collections, json, os, random, shutil, sys, time
import urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "contract"))
from contract import start_ready_demo, stop_demo  # noqa: E402

OPEN = "2025-26-autumn"


def operations(tokens):
    trust = tokens["trust_executive"].get("trust_id")
    school = 990101
    return [
        ("PUT", f"/v1/schools/{school}/sen-returns/{OPEN}", "trust_executive", "json",
         {"pupils_on_roll": 420, "sen_support": 60, "ehc_plan": 14, "senco": {"national_award": "held", "start_date": "2020-09-01"},
          "primary_need": {"ASD": {"sen_support": 30, "ehc_plan": 7}, "SLCN": {"sen_support": 30, "ehc_plan": 7}}}),
        ("PUT", f"/v1/schools/{school}/surveys/pupil_wellbeing/{OPEN}", "trust_executive", "json",
         {"respondents": 40, "items": {"feel_safe": {"agree": 30, "disagree": 10}}}),
        ("POST", f"/v1/trusts/{trust}/sen-returns/{OPEN}/imports", "trust_executive", "csv",
         "urn,pupils_on_roll,sen_support,ehc_plan,senco.national_award\n990101,420,60,14,held\n990102,210,30,6,in_progress\n"),
        ("POST", "/v1/tokens", "trust_executive", "json", {"role": "school_leader", "urns": [school], "label": "fuzz", "expires_at": "2027-01-31T00:00:00Z"}),
        ("POST", "/v1/tokens", "admin", "json", {"role": "researcher", "label": "fuzz"}),
        ("POST", "/v1/instruments", "admin", "json",
         {"code": "fuzz_items", "version": 1, "title": "Fuzz", "audience": "pupils", "items": [{"code": "a_b", "text": "A?", "options": ["yes", "no"]}]}),
        ("POST", "/v1/admin/releases", "admin", "json", {"term": "2023-24-autumn"}),
        ("POST", "/v1/admin/gias-imports", "admin", "csv",
         "URN,EstablishmentName,PhaseOfEducation (name),EstablishmentStatus (name),Trusts (code),Trusts (name)\n990101,Fuzz School,Primary,Open,TR99001,Fuzz Trust\n"),
        ("POST", "/v1/admin/national-imports", "admin", "csv",
         "time_period,geographic_level,phase_type_grouping,total_pupils,sen_support,ehc_plan,sen_support_percent,ehc_plan_percent\n202425,National,Total,100,14,5,14.2,5.3\n"),
        ("DELETE", f"/v1/schools/{school}/sen-returns/2024-25-summer/approval", "trust_executive", "json", {"reason": "a correction"}),
    ]


NASTY_STRINGS = ["\u0000", "e" + "\u0301" * 300, "\ud83d\ude00" * 80, "'; DROP TABLE x; --", "=HYPERLINK(\"x\")", "\u202e", "A" * 70000, "", " ", "-0"]
NASTY_NUMBERS = [0, -1, 2 ** 31, 2 ** 63, 10 ** 30, 1e308, -1e308, 0.5, 1e-300, 3.0]


def mutate_value(value, rng, depth=0):
    roll = rng.random()
    if isinstance(value, dict) and value and roll < 0.6:
        key = rng.choice(list(value))
        out = dict(value)
        choice = rng.random()
        if choice < 0.5:
            out[key] = mutate_value(value[key], rng, depth + 1)
        elif choice < 0.7:
            del out[key]
        elif choice < 0.85:
            out[rng.choice(NASTY_STRINGS)[:50] or "k"] = rng.choice(NASTY_NUMBERS + NASTY_STRINGS)
        else:
            out[key + rng.choice(["\u0000", "x", ".", "/"])] = value[key]
        return out
    if isinstance(value, list) and value and roll < 0.6:
        out = list(value)
        out[rng.randrange(len(out))] = mutate_value(rng.choice(out), rng, depth + 1)
        return out
    if roll < 0.3:
        return rng.choice(NASTY_NUMBERS)
    if roll < 0.6:
        return rng.choice(NASTY_STRINGS)
    if roll < 0.7 and depth < 3:
        nested = value
        for _ in range(rng.choice([2, 50, 600])):
            nested = [nested]
        return nested
    if roll < 0.8:
        return None
    return {"x": value} if rng.random() < 0.5 else [value, value]


def json_body(seed, rng):
    roll = rng.random()
    if roll < 0.55:
        return json.dumps(mutate_value(seed, rng)).encode()
    text = json.dumps(seed)
    if roll < 0.7 and isinstance(seed, dict) and seed:
        # A key given twice, spelt the same or with an escape.
        key = rng.choice(list(seed))
        return (text[:-1] + f', "{key}": 1}}').encode()
    if roll < 0.8:
        return text.replace('"', '"\\u0000', 1).encode()
    return byte_mutation(text.encode(), rng)


def csv_body(seed, rng):
    lines = seed.splitlines()
    roll = rng.random()
    if roll < 0.4:
        row = rng.randrange(len(lines))
        cells = lines[row].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(["\x00", "\"", "\"a,b\"", "-1", "1e9", "=1+1", "\u00e9", "", "9" * 40, "\r"])
        lines[row] = ",".join(cells)
        return ("\n".join(lines) + "\n").encode(rng.choice(["utf-8", "utf-8-sig"]), errors="replace")
    if roll < 0.55:
        return ("\n".join(lines + [lines[-1]] * rng.choice([1, 500])) + "\n").encode()
    if roll < 0.65:
        return ("\r\n".join(lines)).encode("cp1252", errors="replace")
    return byte_mutation(seed.encode(), rng)


def byte_mutation(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        op = rng.random()
        i = rng.randrange(len(data))
        if op < 0.4:
            data[i] = rng.randrange(256)
        elif op < 0.6:
            del data[i]
        elif op < 0.8:
            data.insert(i, rng.choice(b'\x00"{}[],:\\\n\r\xff\xfe'))
        else:
            j = rng.randrange(len(data))
            data[i:i] = data[j:j + rng.randint(1, 40)]
    return bytes(data)


def send(url, method, path, token, body, content_type):
    request = urllib.request.Request(url + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", content_type)
    request.add_header("Idempotency-Key", f"fuzz-{random.random()}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code
    except Exception as error:  # noqa: BLE001 - a dropped connection is a failure
        return f"no answer ({type(error).__name__})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.path.join(ROOT, ".build/debug/senstat-server"))
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    server, log, work, data_dir, url = start_ready_demo(args.server, "senstat-fuzz-")
    failures, statuses, per_operation = [], collections.Counter(), collections.Counter()
    sent = 0
    try:
        tokens = json.load(open(os.path.join(data_dir, "demo-tokens.json")))
        trusts = json.loads(urllib.request.urlopen(urllib.request.Request(url + "/v1/me", headers={"Authorization": "Bearer " + tokens["trust_executive"]["token"]})).read())
        tokens["trust_executive"]["trust_id"] = trusts.get("trust_id")
        ops = operations(tokens)
        bad_corpus = json.load(open(os.path.join(ROOT, "Tests", "Fixtures", "bad-input", "cases.json")))["cases"]
        started = time.time()
        while time.time() - started < args.seconds:
            method, path, role, kind, seed = rng.choice(ops)
            if rng.random() < 0.1:
                case = rng.choice(bad_corpus)
                body = case["body"].encode() if case.get("body") else base64.b64decode(case.get("body_base64") or "")
            else:
                body = json_body(seed, rng) if kind == "json" else csv_body(seed, rng)
            content_type = "application/json" if kind == "json" else "text/csv"
            if rng.random() < 0.05:
                content_type = rng.choice(["text/plain", "application/json; charset=latin1", "multipart/form-data"])
            status = send(url, method, path, tokens[role]["token"], body, content_type)
            sent += 1
            statuses[status] += 1
            per_operation[f"{method} {path.split('/v1/')[1].split('/')[0]}"] += 1
            if not isinstance(status, int) or status >= 500:
                failures.append((method, path, status, body[:300]))
                if server.poll() is not None:
                    failures.append(("server", "", f"exited with {server.returncode}", b""))
                    break
        elapsed = time.time() - started
    finally:
        stop_demo(server, log)
    print(f"http fuzz: {sent} requests in {elapsed:.0f} s ({sent / max(elapsed, 1):.0f}/s), seed {args.seed}")
    print("  statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
    print("  operations: " + ", ".join(f"{k}: {v}" for k, v in sorted(per_operation.items())))
    if failures:
        for method, path, status, body in failures[:20]:
            print(f"  FAILED {method} {path}: {status} for {body!r}")
        print(open(os.path.join(work, "server.log")).read()[-3000:])
        print(f"kept {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print(f"http fuzz: 0 failures ({sent} passed, 0 failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
