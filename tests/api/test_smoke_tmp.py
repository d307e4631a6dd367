from api_support import MEGAN, REQUESTS, sales_body


async def test_smoke(api) -> None:
    r = await api.post(REQUESTS, sales_body(MEGAN, justification="x"), MEGAN)
    print(r.status_code, r.headers, r.json())
    assert r.status_code == 201
    rid = r.json()["id"]
    cmds = await api.commands()
    print(cmds)
    r = await api.get(f"{REQUESTS}/{rid}", MEGAN)
    print(r.status_code, r.json())
    r = await api.get(f"{REQUESTS}?$filter=state eq 'submitted'", MEGAN)
    print(r.status_code, r.json())
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200, r.text
