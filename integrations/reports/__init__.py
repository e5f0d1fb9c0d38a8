"""The auditor's HTML report and its charts."""
