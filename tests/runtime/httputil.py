"""A tiny HTTP client for the tests (stdlib http.client, keep-alive)."""

from __future__ import annotations

import http.client
import json
from typing import Any

import numpy as np

from modelstack_runtime import decode_response, encode_json_request

GOOD_X = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]], dtype=np.float32)


class Client:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data

    def get_json(self, path: str) -> tuple[int, Any]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body)

    def infer_good(self, model: str = "iris") -> dict[str, np.ndarray]:
        status, _, body = self.request(
            "POST",
            f"/v2/models/{model}/infer",
            encode_json_request({"float_input": GOOD_X}),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        return decode_response(body)

    def close(self) -> None:
        self.conn.close()
