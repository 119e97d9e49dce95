-- A model card's `api_key_preview` is the key's last four characters (it was "…" and them).
-- Bodies are compact JSON written by the server, so the field appears exactly in this form.
UPDATE model_cards
SET body = replace(body, '"api_key_preview":"…', '"api_key_preview":"')
WHERE body LIKE '%"api_key_preview":"…%';
