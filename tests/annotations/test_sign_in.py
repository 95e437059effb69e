from tests import factories


def test_people_sign_in_through_allauth_and_see_their_roles(client, annotator):
    from tests.accounts.conftest import add_totp

    secret = add_totp(annotator)
    response = client.post(
        "/accounts/login/", {"login": "ann", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    client.post("/accounts/2fa/authenticate/", {"code": factories.totp_code(secret)})
    page = client.get("/")
    assert page.status_code == 200
    assert "annotator" in page.content.decode()


def test_wrong_password_does_not_sign_in(client, annotator):
    response = client.post("/accounts/login/", {"login": "ann", "password": "wrong"})
    assert response.status_code == 200
    assert client.get("/").status_code == 302


def test_pages_need_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_up_is_closed(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "mallory",
            "email": "m@example.com",
            "password1": "x" * 16,
            "password2": "x" * 16,
        },
    )
    assert factories.UserFactory._meta.model.objects.filter(username="mallory").count() == 0
    assert response.status_code in (200, 302)
    assert b"closed" in client.get("/accounts/signup/").content.lower()


def test_a_revoked_role_stops_working_at_once(client, annotator):
    from django.contrib.auth.models import Group

    client.force_login(annotator)
    assert client.post("/api/v1/tasks/next/").status_code == 204  # allowed, queue empty

    annotator.groups.remove(Group.objects.get(name="annotator"))
    assert client.post("/api/v1/tasks/next/").status_code == 403

    Group.objects.get(name="annotator").user_set.add(annotator)
    assert client.post("/api/v1/tasks/next/").status_code == 204

    Group.objects.get(name="annotator").user_set.clear()
    assert client.post("/api/v1/tasks/next/").status_code == 403
