from django.contrib import admin

from .models import Activity, Order

admin.site.register(Order)
admin.site.register(Activity)
