"""The official `openai` Python SDK against the Elelem gateway: plain, streaming
and an error. Usage: python openai_sdk.py http://127.0.0.1:PORT/v1"""
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key="gateway-key-unused", max_retries=0)
# The bench's test server answers these two messages (and only these) with the
# scripted answers checked below.
plain = [{"role": "user", "content": "SDK check: plain"}]
streamed = [{"role": "user", "content": "SDK check: stream"}]

r = client.chat.completions.create(model="openai:gpt-4.1-mini", messages=plain, extra_body={"tags": ["sdk"]})
assert r.choices[0].message.content == "Hello from the SDK", r
meta = r.model_extra["elelem"]
assert meta["answered_by"] == "openai:gpt-4.1-mini" and meta["attempts"] == 1, meta

text, usage, stream_meta = "", None, None
for chunk in client.chat.completions.create(model="openai:gpt-4.1-mini", messages=streamed, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
    if (chunk.model_extra or {}).get("elelem"):
        stream_meta = chunk.model_extra["elelem"]
assert text == "Streamed by the SDK", text
assert usage is not None and usage.completion_tokens == 3, usage
assert stream_meta is not None and stream_meta["cost_usd"] > 0, stream_meta

try:
    client.chat.completions.create(model="openai:no-such-model", messages=plain)
    raise AssertionError("an unknown model must fail")
except openai.NotFoundError as e:
    assert e.body["code"] == "model_not_found", e.body

print(f"openai SDK {openai.__version__}: plain, streaming (text, usage, elelem cost {stream_meta['cost_usd']}) and errors OK")
