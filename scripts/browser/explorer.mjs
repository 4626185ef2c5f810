// Loads the API explorer page in headless Chromium and reports, as one JSON
// line on stdout, the operations it lists, every console error, page error,
// failed request and refused (4xx/5xx) answer it saw, then saves a
// screenshot.
//
//   node explorer.mjs http://127.0.0.1:8080/docs target/explorer.png
//
// CHROMIUM names the browser binary (default: Debian's /usr/bin/chromium).
import puppeteer from "puppeteer-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node explorer.mjs URL SCREENSHOT");
  process.exit(2);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in a container has no user namespace for the sandbox.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
const problems = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warn") {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) {
      problems.push(`answer ${response.status()}: ${response.url()}`);
    }
  });
  await page.goto(url, { waitUntil: "networkidle0", timeout: 30000 });
  await page.waitForSelector(".opblock-summary", { timeout: 30000 });
  const operations = await page.$$eval(".opblock-summary", (summaries) =>
    summaries.map((summary) => ({
      method: summary.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "",
      path: summary.querySelector("[data-path]")?.getAttribute("data-path") ?? "",
    })),
  );
  const title = await page.$eval(".info .title", (node) => node.textContent?.trim() ?? "");
  // Opening one operation shows its request body's fields.
  await page.click("#operations-identity-register .opblock-summary-control").catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 500));
  const opened = await page.$$eval("#operations-identity-register .body-param__example, #operations-identity-register .model-example", (nodes) =>
    nodes.map((node) => node.textContent ?? "").join("\n"),
  );
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ title, operations, opened, problems }));
} finally {
  await browser.close();
}
