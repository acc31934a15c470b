//! A real browser for the admin UI's tests: headless Chromium driven through
//! `chromedriver` over the W3C WebDriver protocol (JSON over HTTP).
//!
//! The client is a few WebDriver commands over the `reqwest` the kit already has:
//! `fantoccini` would bring `webdriver` 0.53 and with it a second ICU family
//! (`icu_segmenter` 1.5 with its compiled data, beside `url`'s ICU 2), `time` and two
//! `cookie` versions, for the dozen commands used here.
//!
//! [`Browser::start`] answers `None` (with a one-line reason on stderr) when
//! `chromedriver` or `chromium` is not installed, except under `CI=true`, where that
//! is a failure: `.ci/run` installs both (`apt-get install chromium chromium-driver`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key a WebDriver element reference is sent under (W3C).
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a lookup or a wait for text may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// A headless Chromium session (its `chromedriver` is killed on drop).
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
    profile: PathBuf,
    /// Where [`Browser::screenshot`] writes its PNG files.
    pub artifacts: PathBuf,
}

/// An element found on the current page.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `None` with a reason when a browser cannot run here; a panic under CI.
fn unavailable(reason: &str) -> Option<Browser> {
    assert!(
        !crate::ci(),
        "{reason}: CI must run the browser tests (.ci/run installs chromium and chromium-driver)"
    );
    eprintln!("skipped: {reason} (apt-get install chromium chromium-driver)");
    None
}

/// Where screenshots go: `<target dir>/browser-artifacts/<test>`.
fn artifacts_dir(test: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("browser-artifacts").join(test)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium session for the test `test`
    /// (its screenshots go under `browser-artifacts/<test>`).
    pub async fn start(test: &str) -> Option<Browser> {
        let Some(driver_bin) = on_path("chromedriver") else {
            return unavailable("chromedriver is not installed");
        };
        let Some(chromium) = on_path("chromium").or_else(|| on_path("chromium-browser")) else {
            return unavailable("chromium is not installed");
        };
        wire::http::install_crypto_provider();
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver_bin.display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let profile = crate::temp_dir("ghlsync_chromium");
        let mut browser = Browser {
            http,
            session: String::new(),
            driver,
            profile,
            artifacts: artifacts_dir(test),
        };
        let started = Instant::now();
        while browser
            .http
            .get(format!("{base}/status"))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < WAIT,
                "chromedriver did not answer on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", browser.profile.display()),
                ],
            },
        }}});
        let created = browser.call("POST", &format!("{base}/session"), caps).await;
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"));
        browser.session = format!("{base}/session/{id}");
        std::fs::create_dir_all(&browser.artifacts).expect("the artifacts directory");
        Some(browser)
    }

    /// Sends a WebDriver command; its `value`, or a panic naming the command and the
    /// driver's error.
    async fn call(&self, method: &str, url: &str, body: Value) -> Value {
        match self.try_call(method, url, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {url}: {e}"),
        }
    }

    async fn try_call(&self, method: &str, url: &str, body: Value) -> Result<Value, String> {
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let ok = resp.status().is_success();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(format!("{}: {}", value["error"], value["message"]))
        }
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({"url": url})).await;
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.command("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The current page's HTML, as the browser holds it.
    pub async fn source(&self) -> String {
        self.command("GET", "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text a person sees on the page (read again when the page was replaced
    /// while it was read: a navigation in progress).
    pub async fn text(&self) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            match self.try_text().await {
                Ok(text) => return text,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        format!("(no page text: {last})")
    }

    async fn try_text(&self) -> Result<String, String> {
        let body = self
            .try_call(
                "POST",
                &format!("{}/element", self.session),
                json!({"using": "css selector", "value": "body"}),
            )
            .await?;
        let id = body[ELEMENT].as_str().unwrap_or_default();
        let text = self
            .try_call(
                "GET",
                &format!("{}/element/{id}/text", self.session),
                Value::Null,
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The visible text of `element`.
    pub async fn element_text(&self, element: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", element.id), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching the CSS `selector`, waiting for it to appear.
    pub async fn find(&self, selector: &str) -> Element {
        let started = Instant::now();
        loop {
            let found = self
                .try_call(
                    "POST",
                    &format!("{}/element", self.session),
                    json!({"using": "css selector", "value": selector}),
                )
                .await;
            match found {
                Ok(v) => {
                    let id = v[ELEMENT].as_str().expect("an element reference");
                    return Element { id: id.to_owned() };
                }
                Err(e) if started.elapsed() > WAIT => panic!(
                    "no element `{selector}` on {} after {WAIT:?} ({e}); the page:\n{}",
                    self.url().await,
                    self.text().await
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// How many elements match the CSS `selector` now.
    pub async fn count(&self, selector: &str) -> usize {
        self.command(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": selector}),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Clicks the element matching `selector` (a link or a submit button waits for
    /// the next page to load).
    pub async fn click(&self, selector: &str) {
        let element = self.find(selector).await;
        self.command("POST", &format!("/element/{}/click", element.id), json!({}))
            .await;
    }

    /// Types `text` into the field matching `selector`, replacing what it held.
    pub async fn fill(&self, selector: &str, text: &str) {
        let element = self.find(selector).await;
        self.command("POST", &format!("/element/{}/clear", element.id), json!({}))
            .await;
        self.command(
            "POST",
            &format!("/element/{}/value", element.id),
            json!({"text": text}),
        )
        .await;
    }

    /// The `value` property of the field matching `selector` (what it holds now).
    pub async fn value(&self, selector: &str) -> String {
        let element = self.find(selector).await;
        self.command(
            "GET",
            &format!("/element/{}/property/value", element.id),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the page's visible text contains `needle`; the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < WAIT,
                "`{needle}` did not appear on {} after {WAIT:?}; the page:\n{text}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page as `<artifacts>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let data = self.command("GET", "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("a base64 screenshot"))
            .expect("a base64 screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Ends the session (Chromium exits) and stops the driver.
    pub async fn quit(mut self) {
        let _ = self.try_call("DELETE", &self.session, Value::Null).await;
        self.session.clear();
    }
}

impl Drop for Browser {
    /// A test that fails mid-walk still closes Chromium: the session is deleted with
    /// a plain blocking request (no runtime in `drop`), then the driver is killed.
    fn drop(&mut self) {
        if let Some(rest) = self.session.strip_prefix("http://")
            && let Some((host, path)) = rest.split_once('/')
        {
            delete_blocking(host, &format!("/{path}"));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE path` on `host` (`127.0.0.1:port`) over HTTP/1.1, waiting at most 10 s.
fn delete_blocking(host: &str, path: &str) {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}
