def test_login_page_is_chinese(client):
    # when
    response = client.get("/accounts/login/")
    # then
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_health_answers_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
