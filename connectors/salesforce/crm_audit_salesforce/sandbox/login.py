"""Logins to the sandbox org and the sessions they open: the SOAP login of the password
mode (``/services/Soap/u/{v}``), the OAuth token endpoint (``/services/oauth2/token``:
JWT bearer and password grants), and the set of valid session ids (``Bearer`` tokens)."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid

from werkzeug.wrappers import Request, Response

from .responses import json_response

_SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>'
    '<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>'
    '<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>'
    'Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault>'
    '</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>')


class Logins:
    """Credentials the sandbox accepts, and the sessions it has handed out."""

    def __init__(self, token: str, lock: threading.Lock, *, username: str, password: str, security_token: str,
                 consumer_key: str, public_key: str | None = None):
        self.lock = lock
        self.tokens = {token}
        self.credentials = {"username": username, "password": password, "security_token": security_token,
                            "consumer_key": consumer_key}
        self.public_key = public_key  # PEM for JWT bearer checks (signatures unchecked without one)

    def valid(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def expire_all(self) -> None:
        with self.lock:
            self.tokens.clear()

    def new_session(self) -> str:
        token = "00D" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
        return token

    def oauth_token(self, request: Request) -> Response:
        grant = request.form.get("grant_type", "")
        ok = False
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._check_jwt(request.form.get("assertion", ""))
        elif grant == "password":
            c = self.credentials
            ok = (request.form.get("username") == c["username"] and request.form.get("client_id") == c["consumer_key"]
                  and request.form.get("password") in (c["password"], c["password"] + c["security_token"]))
        if not ok:
            return Response(json.dumps({"error": "invalid_grant", "error_description": "authentication failure"}),
                            status=400, content_type="application/json")
        host = request.host
        return json_response({"access_token": self.new_session(), "instance_url": f"https://{host}",
                              "id": f"https://{host}/id/00D/005", "token_type": "Bearer", "scope": "api",
                              "issued_at": str(int(time.time() * 1000)), "signature": "sandbox"})

    def _check_jwt(self, assertion: str) -> bool:
        try:
            import jwt

            claims = jwt.decode(assertion, self.public_key, algorithms=["RS256"],
                                audience=None, options={"verify_aud": False, "verify_signature": bool(self.public_key)})
        except Exception:
            return False
        c = self.credentials
        return claims.get("sub") == c["username"] and claims.get("iss") == c["consumer_key"]

    def soap_login(self, request: Request, path: str) -> Response:
        body = request.get_data(as_text=True)
        user = re.search(r"<(?:n1|urn):username>(.*?)</(?:n1|urn):username>", body)
        password = re.search(r"<(?:n1|urn):password>(.*?)</(?:n1|urn):password>", body)
        c = self.credentials
        if not user or not password or html.unescape(user[1]) != c["username"] or \
                html.unescape(password[1]) != c["password"] + c["security_token"]:
            return Response(_SOAP_FAULT, status=500, content_type="text/xml")
        host = request.host
        version = path.rsplit("/", 1)[-1]
        ok = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
              'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
              f'<serverUrl>https://{host}/services/Soap/u/{version}/00D</serverUrl>'
              f'<sessionId>{self.new_session()}</sessionId><userId>005000000000000AAA</userId>'
              '</result></loginResponse></soapenv:Body></soapenv:Envelope>')
        return Response(ok, content_type="text/xml")
