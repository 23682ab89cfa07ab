"""The web app as people use it, in a real Chromium (Debian's chromium and chromium-driver, driven by Selenium).

Run by Tests/browser/run, which starts `senstat-server --demo` on a fresh data directory on loopback and stops it.
Every page of every role is checked with axe-core (WCAG 2.2 AA rules: no violations) and photographed at 1280 and
375 px wide into the screenshot folder. Exits non-zero on the first failed check, saying which.
"""

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_source():
    """axe-core as shipped inside the axe-playwright-python wheel (only its script is used)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("axe-playwright-python is not installed (Tests/browser/requirements.txt)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "axe.min.js")
    with open(path, encoding="utf-8") as f:
        return f.read()


class Failure(Exception):
    pass


class Browser:
    def __init__(self, base, shots):
        self.base = base.rstrip("/")
        self.shots = shots
        self.axe = axe_source()
        self.pages_checked = []
        options = Options()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--disable-extensions", "--no-first-run", "--password-store=basic"]:
            options.add_argument(arg)
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(30)

    def close(self):
        self.driver.quit()

    # Navigation

    def go(self, path):
        self.driver.get(self.base + path)

    def path(self):
        url = self.driver.current_url
        return url[len(self.base):] if url.startswith(self.base) else url

    def h1(self):
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def follow(self, element):
        """Clicks a link or a submit button and waits for the next page to load."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()

        def replaced(_):
            # The old page's root is stale once the next page has replaced it; Chromium sometimes says so as "node
            # does not belong to the document" rather than as a stale reference.
            try:
                old.is_enabled()
                return False
            except WebDriverException:
                return True

        WebDriverWait(self.driver, 30).until(replaced)
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def click_button(self, label):
        for button in self.driver.find_elements(By.TAG_NAME, "button"):
            if button.text.strip() == label:
                self.follow(button)
                return
        raise Failure(f"no button '{label}' on {self.path()}")

    def click_link(self, label):
        for link in self.driver.find_elements(By.TAG_NAME, "a"):
            if link.text.strip() == label:
                self.follow(link)
                return
        raise Failure(f"no link '{label}' on {self.path()}")

    def fill(self, field_id, value):
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    # Checks

    def check(self, condition, message):
        if not condition:
            self.screenshot("FAILED")
            raise Failure(f"{message} (at {self.path()})")
        print(f"  ok: {message}")

    def axe_run(self):
        self.driver.execute_script(self.axe)
        return self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}}).then(function (r) { done(r.violations); })"
            ".catch(function (e) { done([{id: 'axe-error', help: String(e), nodes: []}]); });",
            AXE_TAGS)

    def page(self, name):
        """axe-core on the page as it is, on a desktop (1280 px) and a phone (375 px): zero violations of the WCAG
        2.2 AA rules at either width; then its screenshots, and reflow at 320 px."""
        for width in (1280, 375):
            self.driver.set_window_size(width, 900)
            result = self.axe_run()
            if result:
                for v in result:
                    targets = [n.get("target") for n in v.get("nodes", [])][:5]
                    print(f"  axe violation on {name} at {width} px: {v['id']}: {v.get('help')} {targets}")
                self.driver.set_window_size(1280, 900)
                self.screenshot(name)
                raise Failure(f"{len(result)} axe violation(s) on {name} at {width} px ({self.path()})")
        self.driver.set_window_size(1280, 900)
        self.screenshot(name)
        self.check_reflow(name)
        self.pages_checked.append(name)
        print(f"  ok: {name}: no axe violations at 1280 or 375 px ({self.path()})")

    def check_reflow(self, name):
        """At 320 CSS px (WCAG 1.4.10: 1280 px at 400% zoom) the page scrolls only down: wide tables and charts
        scroll inside their own regions."""
        self.driver.set_window_size(320, 900)
        width = self.driver.execute_script("return document.documentElement.clientWidth")
        scroll = self.driver.execute_script("return document.documentElement.scrollWidth")
        self.driver.set_window_size(1280, 900)
        if scroll > width + 1:
            self.screenshot(name + "-REFLOW")
            raise Failure(f"{name} scrolls sideways at 320 px ({scroll} px wide in a {width} px viewport)")

    def screenshot(self, name):
        if not self.shots:
            return
        for width in (1280, 375):
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
            self.driver.set_window_size(width, min(max(int(height) + 120, 600), 8000))
            self.driver.save_screenshot(os.path.join(self.shots, f"{name}-{width}.png"))
        self.driver.set_window_size(1280, 900)

    # People

    def sign_in_as(self, label_prefix):
        self.go("/sign-in")
        for button in self.driver.find_elements(By.CSS_SELECTOR, ".demo-list button"):
            if button.text.startswith(label_prefix):
                self.follow(button)
                return
        raise Failure(f"no demo sign-in for '{label_prefix}'")

    def sign_out(self):
        self.click_button("Sign out")


def run(b, tokens):
    leader_urn = tokens["school_leader"]["urns"][0]
    trust = tokens["trust_executive"]["trust_id"]
    other_trust = tokens["other_trust_executive"]["trust_id"]
    other_urn = tokens["other_trust_executive"]["urns"][0]
    siblings = [u for u in tokens["trust_executive"]["urns"] if u != leader_urn]
    sibling_urn = siblings[0]

    print("signed out")
    b.go("/")
    b.check(b.path().startswith("/sign-in"), "a signed-out visitor is sent to sign in")
    b.page("sign-in")
    b.fill("token", "sst_not-a-real-token")
    b.click_button("Sign in")
    b.check("not valid" in b.text(), "a wrong token is refused with a message")
    b.page("sign-in-error")

    print("a school leader sends a return with two mistakes, then fixes them")
    b.sign_in_as("School leader")
    b.check(b.path() == f"/schools/{leader_urn}", "the school leader lands on their school")
    b.page("leader-school")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, "tbody tr a[href$='/edit']"))
    b.check(b.path().endswith("/edit"), "the return form opens")
    b.page("leader-return-form")
    b.fill("f-pupils_on_roll", "400")
    b.fill("f-sen_support", "500")
    b.fill("f-ehc_plan", "twelve")
    b.click_button("Send the return")
    summary = b.driver.find_elements(By.CSS_SELECTOR, ".error-summary li")
    b.check(len(summary) == 2, f"both mistakes are listed in the error summary ({[s.text for s in summary]})")
    b.check(b.driver.find_element(By.ID, "f-ehc_plan").get_attribute("value") == "twelve", "what was typed is kept")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, ".error-message")) == 2, "each mistake is shown next to its field")
    b.page("leader-return-form-errors")
    b.fill("f-sen_support", "52")
    b.fill("f-ehc_plan", "12")
    b.click_button("Send the return")
    b.check("Your return has been saved" in b.text(), "the corrected return is saved")
    return_path = b.path().split("?")[0]
    b.page("leader-return")
    b.go(f"/schools/{leader_urn}")
    b.follow(b.driver.find_elements(By.CSS_SELECTOR, "a[href*='/surveys/']")[0])
    b.page("leader-survey-form")
    b.fill("s-respondents", "ten")
    b.click_button("Send the survey return")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, ".error-summary li")) >= 1, "a survey return with a mistake is refused with the error shown")
    b.page("leader-survey-errors")
    b.fill("s-respondents", "30")
    for element in b.driver.find_elements(By.CSS_SELECTOR, "input[name^='items.']"):
        element.clear()
        element.send_keys("0")
    b.click_button("Send the survey return")
    b.check("has been saved" in b.text(), "the survey return is saved")
    b.sign_out()
    b.check(b.path().startswith("/sign-in"), "signing out goes to the sign-in page")
    b.page("signed-out")
    b.driver.back()
    b.check(b.path().startswith("/sign-in") and "Version 1" not in b.text(), "after sign-out the back button shows no data")
    b.go(return_path)
    b.check(b.path().startswith("/sign-in"), "the signed-out session cannot be used again")

    print("the trust executive sees it, approves it, and tries the comparison and the import")
    b.sign_in_as("Trust executive, " )
    b.check(b.path() == f"/trusts/{trust}", "the trust executive lands on this term")
    b.page("exec-home")
    row = [r for r in b.driver.find_elements(By.CSS_SELECTOR, "tbody tr") if f"/schools/{leader_urn}/" in r.get_attribute("innerHTML")]
    b.check(row and "Sent" in row[0].text, "the school's return shows as sent on the home page")
    b.follow(row[0].find_element(By.TAG_NAME, "a"))
    b.page("exec-return")
    b.click_button("Approve and lock")
    b.check("approved and locked" in b.text(), "the return is approved")
    b.page("exec-return-approved")
    b.go(f"/trusts/{trust}?term=2025-26-summer")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, ".flag-list li")) >= 2, "the demo's outliers are flagged on the home page")
    b.page("exec-home-summer")
    b.go(f"/trusts/{trust}/comparison?term=2025-26-summer")
    b.page("exec-comparison-summer")
    # Each point of the funnel is a link, named (as Chromium computes it) by its title: number, school, figure, flag.
    points = b.driver.find_elements(By.CSS_SELECTOR, "figure.funnel svg a")
    names = [point.accessible_name for point in points]
    b.check(len(points) >= 3 and all(re.fullmatch(r"\d+\. .+: observed ÷ expected [\d.]+ of \d+ pupils \(.+\)", n) for n in names),
            f"every point of the funnel is a link with its school's name: {names[:2]} ({len(points)} points)")
    b.go(f"/trusts/{trust}/comparison")
    b.page("exec-comparison")
    b.click_link("Rate")
    b.check("sort=rate" in b.path(), "the comparison sorts by a column")
    b.go(f"/trusts/{trust}/comparison?measure=ehc_plan&comparator=regional")
    b.page("exec-comparison-ehc")
    b.go(f"/schools/{sibling_urn}")
    b.page("exec-school")
    b.click_link("SENCO and progress")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, "table tbody tr")) >= 1, "the SENCO and progress page lists the schools")
    b.page("exec-senco")
    b.click_link("Surveys")
    b.check("/surveys/" in b.path() and len(b.driver.find_elements(By.CSS_SELECTOR, "table tbody tr")) >= 2, "the trust's survey results are shown")
    b.page("exec-surveys")
    b.go(b.path().split("?")[0] + "?term=2025-26-summer")
    b.check("fewer than 10 respondents" in b.text(), "the demo's small schools are hidden as c, with the reason")
    b.page("exec-surveys-summer")
    b.go(f"/trusts/{trust}/import")
    b.page("exec-import")
    csv = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    csv.write(f"urn,pupils_on_roll,sen_support,ehc_plan\n{sibling_urn},300,40,5\n{siblings[1]},abc,10,2\n")
    csv.close()
    b.driver.find_element(By.ID, "file").send_keys(csv.name)
    b.click_button("Import")
    problems = [r.text for r in b.driver.find_elements(By.CSS_SELECTOR, "#problems ~ .table-wrap tbody tr")]
    b.check(any(p.startswith("3 ") and "pupils_on_roll" in p for p in problems), f"the bad row is shown by row and column ({problems})")
    b.page("exec-import-errors")
    b.go(f"/trusts/{trust}")
    row = [r for r in b.driver.find_elements(By.CSS_SELECTOR, "tbody tr") if f"/schools/{sibling_urn}/" in r.get_attribute("innerHTML")]
    b.check(row and "Not sent" in row[0].text, "nothing from the rejected file was stored")
    # The file put right and sent: the receipt names the rows and what each became, and the school is no longer missing.
    b.go(f"/trusts/{trust}/import")
    csv = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    csv.write(f"urn,pupils_on_roll,sen_support,ehc_plan\n{sibling_urn},300,40,5\n{siblings[1]},200,10,2\n")
    csv.close()
    b.driver.find_element(By.ID, "file").send_keys(csv.name)
    b.click_button("Import")
    b.check(re.search(r"2 rows for .+: [12] new, [01] amended, [01] unchanged", b.text()) is not None,
            f"the receipt says what the two rows became ({b.text()[:300]!r})")
    b.page("exec-import-done")
    b.go(f"/trusts/{trust}")
    row = [r for r in b.driver.find_elements(By.CSS_SELECTOR, "tbody tr") if f"/schools/{sibling_urn}/" in r.get_attribute("innerHTML")]
    b.check(row and "Not sent" not in row[0].text, "the imported school's return is now on the trust's page")
    for path in (f"/trusts/{other_trust}", f"/trusts/{other_trust}/comparison", f"/schools/{other_urn}", f"/schools/{other_urn}/returns/2025-26-summer"):
        b.go(path)
        b.check(b.h1() == "Page not found", f"another trust's page is a 404 page: {path}")
    b.page("not-found")
    b.check(b.driver.find_element(By.CSS_SELECTOR, ".header-user a").text.startswith("Signed in as Trust executive, Pennine"), "the header names the role and trust")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, ".header-user a"))
    b.check(b.path() == "/account" and "Pennine" in b.text(), "the account page says who and for which trust")
    b.page("exec-account")
    b.go("/tokens")
    b.page("exec-tokens")
    b.driver.find_element(By.ID, f"urn-{leader_urn}").click()
    b.fill("label", "a second school leader")
    b.click_button("Issue token")
    b.check(b.driver.find_element(By.ID, "issued-token").get_attribute("value").startswith("sst_"), "a trust executive issues a school leader's token")
    b.page("exec-token-issued")
    b.sign_out()

    print("the school leader can no longer edit the approved return")
    b.sign_in_as("School leader")
    b.go(return_path)
    b.check("Approved" in b.text() and not b.driver.find_elements(By.LINK_TEXT, "Amend the return"), "the approved return offers no amendment")
    b.go(return_path + "/edit")
    b.check("approved and locked" in b.text() and not b.driver.find_elements(By.ID, "f-pupils_on_roll"), "the form is refused for an approved return")
    b.page("leader-return-locked")
    b.sign_out()

    print("a researcher queries a released term")
    b.sign_in_as("Researcher")
    b.check(b.path() == "/research", "the researcher lands on the research page")
    b.page("researcher-home")
    b.click_button("Run query")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 2, "a disclosure-controlled answer is shown")
    b.page("researcher-sdc")
    b.driver.find_element(By.ID, "privacy-dp").click()
    b.fill("epsilon", "0.1")
    b.click_button("Run query")
    b.check("Budget left for this release" in b.text(), "a differentially private answer shows the budget left")
    b.page("researcher-dp")
    b.fill("epsilon", "99")
    b.click_button("Run query")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, ".error-summary li")) == 1, "an epsilon out of range is an error on the form")
    b.page("researcher-error")
    b.sign_out()

    print("an administrator releases a term and issues a token")
    b.sign_in_as("Administrator")
    b.check(b.path() == "/admin", "the administrator lands on the administration page")
    b.page("admin-home")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, "a[href^='/admin/trusts/']"))
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 1, "a trust's schools are listed for the administrator")
    b.page("admin-trust")
    b.go("/admin")
    b.click_button("Release for research")
    b.check("is released for research" in b.text(), "a term is released")
    b.page("admin-released")
    b.go("/tokens")
    b.page("admin-tokens")
    b.fill("label", "browser test researcher")
    from selenium.webdriver.support.ui import Select
    Select(b.driver.find_element(By.ID, "role")).select_by_value("researcher")
    b.click_button("Issue token")
    issued = b.driver.find_element(By.ID, "issued-token").get_attribute("value")
    b.check(issued.startswith("sst_"), "the new token is shown once")
    b.page("admin-token-issued")
    b.go("/tokens")
    b.check(issued not in b.driver.page_source, "the token is not shown again")
    b.sign_out()
    b.fill("token", issued)
    b.click_button("Sign in")
    b.check(b.path() == "/research", "the new token signs in")
    b.sign_out()


def set_user(provider, sub, claims):
    """The provider's users are the test's: oidc-provider-mock's PUT /users/{sub}."""
    request = urllib.request.Request(f"{provider}/users/{sub}", data=json.dumps(claims).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 204:
            raise Failure(f"the provider refused user {sub}: {response.status}")


def sign_in_with_provider(b, subject):
    """Through the real provider: senstat's button, the provider's own form, back to senstat."""
    b.go("/sign-in")
    b.click_link("Sign in with Mock Identity")
    b.check(b.driver.current_url.startswith(b.provider), "the button goes to the identity provider")
    b.fill("subject-input", subject)
    b.click_button("Authorize")


def sign_out_at_provider(b):
    """senstat's sign-out, then the provider's end-session page (RP-initiated logout), back to senstat."""
    b.sign_out()
    if b.driver.current_url.startswith(b.provider):
        b.click_button("End session")
    b.check(b.path().startswith("/sign-in"), "signed out, back on senstat's sign-in page")


def invite_executive(b, email, trust):
    """On the administrator's People page: invites `email` as the executive of `trust`."""
    b.fill("email", email)
    Select(b.driver.find_element(By.ID, "role")).select_by_value("trust_executive")
    Select(b.driver.find_element(By.ID, "trust_id")).select_by_value(trust)
    b.click_button("Send invitation")
    b.check("Invitation sent" in b.text() and email.lower() in b.text(), f"the invitation to {email.lower()} is listed")


def run_oidc(b, tokens):
    """Sign-in with an identity provider, end to end: an administrator invites a trust's first executive, who signs
    in through the provider and invites a school leader, sees the trust's email domain (the administrator's), and gives a role to a
    colleague who signed in from it; each lands on their role's home page; an uninvited person and a stray callback
    are refused; a signed-out session id is not accepted again."""
    trust = tokens["trust_executive"]["trust_id"]
    leader_urn = tokens["school_leader"]["urns"][0]
    set_user(b.provider, "exec-1", {"email": "alex.exec@pennine-trust.example.org", "email_verified": True, "name": "Alex Exec"})
    set_user(b.provider, "head-1", {"email": "sam.head@pennine-trust.example.org", "email_verified": True, "name": "Sam Head"})
    set_user(b.provider, "teacher-1", {"email": "kim.teacher@pennine-trust.example.org", "email_verified": True, "name": "Kim Teacher"})
    set_user(b.provider, "stranger-1", {"email": "stranger@gmail.com", "email_verified": False, "name": "Stranger"})

    print("an administrator invites a trust's first executive")
    b.sign_in_as("Administrator")
    b.click_link("People")
    b.page("admin-people")
    invite_executive(b, "Alex.Exec@pennine-trust.example.org", trust)
    b.go(f"/admin/trusts/{trust}")
    b.fill("domains", "gmail.com")
    b.click_button("Save domains and tenants")
    b.check("personal email service" in b.text(), "a personal email service is refused as a trust's domain")
    b.page("admin-trust-domain-error")
    b.fill("domains", "pennine-trust.example.org")
    b.click_button("Save domains and tenants")
    b.check("Sign-in domains and tenants saved" in b.text(), "the administrator lists the trust's domain")
    b.sign_out()

    print("the executive signs in through the provider and accepts it")
    sign_in_with_provider(b, "exec-1")
    b.check(b.path() == f"/trusts/{trust}", "the invited executive lands on the trust's home page")
    b.check("Alex Exec" in b.text() or "Trust executive" in b.text(), "the header names who is signed in")
    b.click_link("People")
    b.check("Alex Exec" in b.text(), "the executive is listed as a member")
    b.fill("email", "sam.head@pennine-trust.example.org")
    Select(b.driver.find_element(By.ID, "role")).select_by_value("school_leader")
    b.driver.find_element(By.ID, f"urn-{leader_urn}").click()
    b.click_button("Send invitation")
    b.check("sam.head@pennine-trust.example.org" in b.text(), "the school leader's invitation is listed")
    b.check("pennine-trust.example.org" in b.text(), "the executive sees the trust's domain")
    b.page("exec-people")
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    b.go(f"/cli/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=browser-test-state&code_challenge={challenge}&code_challenge_method=S256")
    b.check("asks to act for you as" in b.text() and "Allow" in b.text(), "senstat login --web's page names the role it would act in")
    b.page("cli-authorize")
    b.go("/account")
    b.check("Command-line tokens" in b.text(), "the account page lists the command line's tokens")
    b.page("oidc-account")
    session = b.driver.get_cookie("senstat")
    sign_out_at_provider(b)
    if session:
        b.driver.add_cookie({"name": "senstat", "value": session["value"], "path": "/"})
        b.go(f"/trusts/{trust}")
        b.check(b.path().startswith("/sign-in"), "a signed-out session id is not accepted again")

    print("the school leader signs in and lands on their school")
    sign_in_with_provider(b, "head-1")
    b.check(b.path() == f"/schools/{leader_urn}", "the invited school leader lands on their school")
    b.page("oidc-leader-school")
    sign_out_at_provider(b)

    print("a colleague from the trust's domain waits for a role, and is given one")
    sign_in_with_provider(b, "teacher-1")
    b.check(b.h1() == "No role yet", "a colleague from the trust's domain has no role yet")
    b.page("oidc-no-role")
    sign_in_with_provider(b, "exec-1")
    b.click_link("People")
    b.check("Kim Teacher" in b.text(), "the colleague is waiting on the People page")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, "a[href^='/people/waiting/']"))
    b.page("people-grant")
    Select(b.driver.find_element(By.ID, "role")).select_by_value("school_leader")
    b.click_button("Give role")
    b.check(len(b.driver.find_elements(By.CSS_SELECTOR, ".error-summary li")) == 1, "a school leader without a school is refused")
    b.page("people-grant-error")
    b.driver.find_element(By.ID, f"urn-{leader_urn}").click()
    b.click_button("Give role")
    b.check("Role given" in b.text(), "the role is given")
    sign_out_at_provider(b)
    sign_in_with_provider(b, "teacher-1")
    b.check(b.path() == f"/schools/{leader_urn}", "the colleague now lands on their school")
    sign_out_at_provider(b)

    print("a person in two trusts chooses which to act in")
    other_trust = tokens["other_trust_executive"]["trust_id"]
    b.sign_in_as("Administrator")
    b.click_link("People")
    invite_executive(b, "sam.head@pennine-trust.example.org", other_trust)
    b.sign_out()
    sign_in_with_provider(b, "head-1")
    b.check(b.path() == "/account", "a person with two memberships lands on their account page")
    b.check("act in one at a time, now as School leader" in b.text(), "the top of the page says which role the person acts in")
    switches = b.driver.find_elements(By.CSS_SELECTOR, "form[action='/account/act-as'] button")
    b.check(len(switches) == 1 and switches[0].text.startswith("Trust executive, "), "the account page offers the other membership")
    b.page("oidc-two-memberships")
    # A form naming a membership that is not hers (changed in the page): not found, and nothing changes.
    b.driver.execute_script("document.querySelector(\"form[action='/account/act-as'] input[name=membership]\").value = "
                            "'00000000-0000-4000-8000-000000000000'")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, "form[action='/account/act-as'] button"))
    b.check(b.h1() == "Page not found", "a switch to a membership that is not hers is not found (not 'cannot be done')")
    b.page("act-as-refused")
    b.go("/account")
    b.check("now as School leader" in b.text(), "the refused switch changed nothing")
    b.follow(b.driver.find_element(By.CSS_SELECTOR, "form[action='/account/act-as'] button"))
    b.check(b.path() == f"/trusts/{other_trust}", "acting in the other membership lands on that trust's home page")
    b.check("Signed in as Trust executive" in b.text(), "the header names the membership acted in")
    b.page("act-as-other-trust")
    b.go(f"/schools/{leader_urn}")
    b.check(b.h1() == "Page not found", "the school of the membership left is not reachable in the other")
    sign_out_at_provider(b)

    print("refusals")
    sign_in_with_provider(b, "stranger-1")
    b.check(b.h1() == "No role yet" and "not verified" in b.text(), "an unverified stranger is not let in")
    for path, name in (("/sign-in/oidc/no-such-provider", "sign-in-unknown-provider"), ("/assets/no-such-file.css", "asset-not-found")):
        b.go(path)
        b.check(b.h1() == "Page not found", f"{path} is a page not found, not a method not allowed")
        b.page(name)
    b.go("/sign-in/oidc/mock/callback?code=forged&state=forged")
    b.check(b.h1() == "You have not been signed in", "a callback this browser did not start is refused")
    b.page("oidc-refused")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--tokens", required=True, help="the demo's demo-tokens.json")
    parser.add_argument("--shots", default="", help="folder for screenshots (none if empty)")
    parser.add_argument("--provider", required=True, help="the OpenID Connect provider's issuer (oidc-provider-mock)")
    args = parser.parse_args()
    if args.shots:
        os.makedirs(args.shots, exist_ok=True)
    with open(args.tokens, encoding="utf-8") as f:
        tokens = json.load(f)
    b = Browser(args.base, args.shots)
    b.provider = args.provider.rstrip("/")
    try:
        run(b, tokens)
        run_oidc(b, tokens)
    except Failure as failure:
        print(f"FAILED: {failure}")
        sys.exit(1)
    finally:
        b.close()
    print(f"browser tests passed: {len(b.pages_checked)} pages checked with axe-core ({', '.join(b.pages_checked)})")


if __name__ == "__main__":
    main()
